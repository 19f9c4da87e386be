namespace Pipeline.Contracts;

/// <summary>One adaptation strategy: its name and what the rest of the system needs to know about it.</summary>
/// <param name="Name">The name every list, option and message uses.</param>
/// <param name="Summary">One line for help texts and docs.</param>
/// <param name="Servable">Its trained model predicts on its own, so a tuner may train it as a candidate (what is served is what was measured).</param>
/// <param name="HighCapacity">Changes every weight with cross-entropy: overfits a small label budget.</param>
/// <param name="TrainsBackbone">Updates backbone weights by gradient (false: only a readout's statistics change).</param>
public sealed record StrategyInfo(string Name, string Summary, bool Servable, bool HighCapacity, bool TrainsBackbone);

/// <summary>
/// The one list of adaptation strategies: the benchmarks, the tuner, the tuning service's validation and the
/// tournament's pool all read it. The implementations live in Pipeline.ML (ContinualStrategies.Create covers every
/// name, checked by a test).
/// </summary>
public static class StrategyRegistry
{
    /// <summary>Every strategy, in the benchmarks' order.</summary>
    public static readonly IReadOnlyList<StrategyInfo> All =
    [
        new("full", "cross-entropy fine-tuning of every parameter", Servable: true, HighCapacity: true, TrainsBackbone: true),
        new("head", "cross-entropy on the classifier only (frozen backbone)", Servable: true, HighCapacity: false, TrainsBackbone: false),
        new("random", "MIST's procedure with a random mask of the same size (selection control), prototype readout", Servable: true, HighCapacity: false, TrainsBackbone: true),
        new("mist", "MIST: MI-Fisher mask, masked NT-Xent steps, prototype readout", Servable: true, HighCapacity: false, TrainsBackbone: true),
        new("mist-ridge", "MIST with RanPAC's ridge readout over random features", Servable: true, HighCapacity: false, TrainsBackbone: true),
        new("ridge", "frozen backbone + RanPAC's ridge readout (control: MIST's readout alone)", Servable: true, HighCapacity: false, TrainsBackbone: false),
        new("prototype", "frozen backbone + class means (control: mist's readout alone)", Servable: true, HighCapacity: false, TrainsBackbone: false),
        new("ewc", "fine-tuning with an elastic penalty from the reference data's Fisher", Servable: true, HighCapacity: false, TrainsBackbone: true),
        new("lora", "low-rank updates merged into the weights", Servable: true, HighCapacity: true, TrainsBackbone: true),
        new("ties", "TIES merging of the regimes' task vectors", Servable: true, HighCapacity: false, TrainsBackbone: true),
        new("wise", "WiSE-FT: fine-tuned and deployed weights interpolated", Servable: true, HighCapacity: false, TrainsBackbone: true),
        new("retrain", "from scratch on the original data and every labelled regime (reference; needs the original training set)", Servable: false, HighCapacity: true, TrainsBackbone: true),
    ];

    /// <summary>Every name.</summary>
    public static readonly IReadOnlyList<string> Names = All.Select(s => s.Name).ToList();

    /// <summary>Names a tuner may train as a candidate (everything but <c>retrain</c>, which needs the original training set).</summary>
    public static readonly IReadOnlyList<string> Servable = All.Where(s => s.Servable).Select(s => s.Name).ToList();

    /// <summary>The entry of a name (case-insensitive), or null.</summary>
    public static StrategyInfo? Find(string? name) =>
        name is null ? null : All.FirstOrDefault(s => string.Equals(s.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    public static bool IsServable(string? name) => name is not null && Servable.Contains(name);
}
