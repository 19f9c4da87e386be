using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>Chooses the torch device: CUDA when available, CPU otherwise.</summary>
public static class ComputeDevice
{
    /// <summary>"auto" (default): CUDA if <c>torch.cuda.is_available()</c>, else CPU; "cpu"; "cuda" or "cuda:N".</summary>
    public static Device Resolve(string? name = "auto")
    {
        var n = string.IsNullOrWhiteSpace(name) ? "auto" : name.Trim().ToLowerInvariant();
        if (n == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (n.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new InvalidOperationException("CUDA was requested but torch.cuda.is_available() is false");
        return torch.device(n);
    }

    /// <summary>Short name for reports: "cpu" or "cuda".</summary>
    public static string Describe(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.type == DeviceType.CUDA ? "cuda" : "cpu";
    }
}
