-- 0040_gate_intervals: the gate decides on confidence intervals of paired differences; keep them.
ALTER TABLE dbo.evaluations ADD
    gain_lower        FLOAT NULL,
    gain_upper        FLOAT NULL,
    forgetting_lower  FLOAT NULL,
    forgetting_upper  FLOAT NULL,
    confidence        FLOAT NULL,
    shifted_rows      INT   NULL,
    original_rows     INT   NULL;
