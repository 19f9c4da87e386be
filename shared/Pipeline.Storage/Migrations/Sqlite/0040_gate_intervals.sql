-- 0040_gate_intervals: the gate decides on confidence intervals of paired differences; keep them.
ALTER TABLE evaluations ADD COLUMN gain_lower REAL NULL;
ALTER TABLE evaluations ADD COLUMN gain_upper REAL NULL;
ALTER TABLE evaluations ADD COLUMN forgetting_lower REAL NULL;
ALTER TABLE evaluations ADD COLUMN forgetting_upper REAL NULL;
ALTER TABLE evaluations ADD COLUMN confidence REAL NULL;
ALTER TABLE evaluations ADD COLUMN shifted_rows INTEGER NULL;
ALTER TABLE evaluations ADD COLUMN original_rows INTEGER NULL;
