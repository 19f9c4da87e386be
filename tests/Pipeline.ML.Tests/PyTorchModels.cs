using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace Pipeline.ML.Tests;

/// <summary>
/// The example user models of docs/models.md, trained and exported by Debian's PyTorch (tools/byom/export_models.py)
/// once per script version into the cache, and PyTorch itself as the reference for predictions (tools/byom/predict.py).
/// </summary>
public static class PyTorchModels
{
    public const string Python = "/usr/bin/python3";
    private static readonly Lazy<string> Exported = new(Export);

    /// <summary>The folder holding cnn.pt/json, tabular.pt/json and the tabular CSV files.</summary>
    public static string Directory => Exported.Value;

    public static string ToolsDirectory => Path.Combine(RepositoryRoot(), "tools", "byom");

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Pipeline.sln) not found above " + AppContext.BaseDirectory);
    }

    private static string Export()
    {
        var script = Path.Combine(ToolsDirectory, "export_models.py");
        var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(script)))[..16].ToLowerInvariant();
        var cache = Environment.GetEnvironmentVariable("PIPELINE_CACHE_DIR") is { Length: > 0 } c
            ? c : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "pipeline");
        var dir = Path.Combine(cache, "byom", hash);
        if (File.Exists(Path.Combine(dir, "done"))) return dir;
        var temp = dir + ".tmp-" + Environment.ProcessId;
        Run(script, "--out", temp);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        File.WriteAllText(Path.Combine(temp, "done"), hash);
        if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, true);
        System.IO.Directory.Move(temp, dir);
        return dir;
    }

    /// <summary>
    /// PyTorch's logits [N, C] (and optionally the embedding) for float32 rows of <paramref name="shape"/>; with
    /// <paramref name="adapted"/> the file is loaded by tools/byom/load_adapted.py (its readout beside it applied).
    /// </summary>
    public static (float[] Logits, float[]? Embedding) Predict(string modelPath, float[] inputs, IReadOnlyList<int> shape, string? embedMethod = null, bool adapted = false)
    {
        var dir = Path.Combine(Path.GetTempPath(), "byom-predict-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        try
        {
            var input = Path.Combine(dir, "x.f32");
            var output = Path.Combine(dir, "y.f32");
            var emb = Path.Combine(dir, "e.f32");
            File.WriteAllBytes(input, MemoryMarshal.AsBytes(inputs.AsSpan()).ToArray());
            var args = new List<string> { Path.Combine(ToolsDirectory, "predict.py"), modelPath, input, string.Join(",", shape), output };
            if (embedMethod is not null) args.AddRange(["--embed", embedMethod, emb]);
            if (adapted) args.Add("--adapted");
            Run([.. args]);
            var logits = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
            var embedding = embedMethod is null ? null : MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(emb)).ToArray();
            return (logits, embedding);
        }
        finally
        {
            System.IO.Directory.Delete(dir, true);
        }
    }

    /// <summary>Runs a Python script of tools/byom (or <c>-c CODE</c>) with Debian's python3 and returns its stdout.</summary>
    public static string Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + Python);
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Python} {string.Join(' ', args.Take(1))} failed ({p.ExitCode}); is python3-torch installed (./pipeline setup)? {stderr.Result}");
        return stdout;
    }

    public static JsonDocument ParseJson(string s) => JsonDocument.Parse(s);
}
