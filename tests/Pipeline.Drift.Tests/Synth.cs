using Pipeline.Drift.Monitoring;

namespace Pipeline.Drift.Tests;

internal static class Synth
{
    public static double Normal(Random r) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    /// <summary>Tabular rows: width numeric features N(shift, 1); class = sign of f0; confidence ~ U(0.6, 1).</summary>
    public static List<Observation> Rows(int n, int width, double shift, int seed, int shiftedFeatures = int.MaxValue)
    {
        var r = new Random(seed);
        var rows = new List<Observation>(n);
        for (int i = 0; i < n; i++)
        {
            var f = new float[width];
            for (int j = 0; j < width; j++) f[j] = (float)(Normal(r) + (j < shiftedFeatures ? shift : 0));
            rows.Add(new Observation(f, f[0] > 0 ? 1 : 0, (float)(0.6 + 0.4 * r.NextDouble()), f[0] > 0 ? 1 : 0));
        }
        return rows;
    }

    /// <summary>28×28 "images": a bright blob whose centre moves by dx pixels.</summary>
    public static List<Observation> Images(int n, int seed, int dx = 0, bool embedding = false)
    {
        var r = new Random(seed);
        var rows = new List<Observation>(n);
        for (int i = 0; i < n; i++)
        {
            var px = new float[784];
            double cx = 10 + r.Next(8) + dx, cy = 10 + r.Next(8);
            for (int y = 0; y < 28; y++)
            {
                for (int x = 0; x < 28; x++)
                {
                    double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                    px[y * 28 + x] = (float)Math.Clamp(Math.Exp(-d2 / 18.0) + 0.05 * r.NextDouble(), 0, 1);
                }
            }
            float[]? emb = embedding ? [(float)(cx / 28), (float)(cy / 28), (float)r.NextDouble()] : null;
            rows.Add(new Observation(px, (int)cx % 10, 0.9f, null, emb));
        }
        return rows;
    }
}
