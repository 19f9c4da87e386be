using System.Globalization;
using Microsoft.Extensions.Configuration;
using Pipeline.Hosting;
using Pipeline.ML.Data;

namespace Pipeline.Standalone.Demo;

/// <summary>One regime of the continual demo: a built-in scenario applied to Fashion-MNIST test images, or a user's files.</summary>
public sealed record SequenceRegime(string Name, DriftScenario? Scenario, string? ImagesPath, string? LabelsPath)
{
    /// <summary>A user's regime: of its N rows, the last min(2000, N/5) are kept unseen (never streamed) for the accuracy matrix.</summary>
    public static int UnseenRows(int rows) => Math.Min(2000, rows / 5);
}

/// <summary>What `demo --sequence` runs, checked before anything starts.</summary>
public sealed record SequenceOptions
{
    /// <summary>Fashion-MNIST test images streamed per built-in regime (the test split less the 2,000 unseen and the clean rows).</summary>
    public const int BuiltInStreamRows = 5000;

    /// <summary>DriftDetection:Cooldown while the continual demo runs: long enough to let a deployed version serve, short enough for the next regime.</summary>
    public const string DemoCooldown = "00:00:05";

    public required IReadOnlyList<SequenceRegime> Regimes { get; init; }

    /// <summary>Distinct labelled rows a regime needs to be detected and labelled without repeating an image.</summary>
    public required int MinimumRows { get; init; }

    /// <summary>Rows streamed after a deployment, for the live accuracy of the new version, before the next regime.</summary>
    public int AfterDeployRows { get; init; } = 1000;

    /// <summary>Longest a regime waits for its run to end.</summary>
    public TimeSpan RegimeTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The minimum: the first window can start before the regime does, then DriftDetection:ConsecutiveWindowsToRaise
    /// drifted windows raise the run, and scoring waits for Scoring:MinLabelledRows labelled rows since the drift began.
    /// </summary>
    public static (int Rows, string Rule) Minimum(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var window = configuration.GetValue("DriftDetection:WindowSize", 500);
        var consecutive = configuration.GetValue("DriftDetection:ConsecutiveWindowsToRaise", 2);
        var labelled = configuration.GetValue("Scoring:MinLabelledRows", 1500);
        return (window * (consecutive + 1) + labelled, string.Create(CultureInfo.InvariantCulture,
            $"DriftDetection:WindowSize {window} × (ConsecutiveWindowsToRaise {consecutive} + 1) + Scoring:MinLabelledRows {labelled}"));
    }

    /// <summary>
    /// Parses `--sequence a,b,c` and `--regime NAME=IMAGES:LABELS`: every name is a scenario or a defined regime, every
    /// file reads as images [N, 28, 28] with N labels in 0..9, and every regime has at least the minimum rows to stream.
    /// Throws <see cref="UserErrorException"/> with one line otherwise.
    /// </summary>
    public static SequenceOptions Parse(string sequence, IReadOnlyList<string> regimeDefinitions, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(regimeDefinitions);
        var defined = new Dictionary<string, (string Images, string Labels)>(StringComparer.OrdinalIgnoreCase);
        foreach (var definition in regimeDefinitions)
        {
            var eq = definition.IndexOf('=', StringComparison.Ordinal);
            var colon = eq < 0 ? -1 : definition.IndexOf(':', eq + 1);
            if (eq <= 0 || colon < 0 || colon == eq + 1 || colon == definition.Length - 1)
            {
                throw new UserErrorException($"--regime '{definition}': expected NAME=IMAGES.idx.gz:LABELS.idx.gz");
            }

            defined[definition[..eq].Trim()] = (definition[(eq + 1)..colon], definition[(colon + 1)..]);
        }

        var names = sequence.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            throw new UserErrorException("--sequence names no regime: list them in order, e.g. rotate-15,rotate-30,noise-0.3,contrast-0.3");
        }

        var (minimum, rule) = Minimum(configuration);
        var regimes = new List<SequenceRegime>();
        foreach (var name in names)
        {
            if (name.Equals("original", StringComparison.OrdinalIgnoreCase))
            {
                throw new UserErrorException("--sequence: 'original' always comes first on its own; list only the regimes that follow it");
            }

            if (defined.TryGetValue(name, out var files))
            {
                var rows = CheckFiles(name, files.Images, files.Labels);
                var stream = rows - SequenceRegime.UnseenRows(rows);
                if (stream < minimum)
                {
                    throw new UserErrorException(string.Create(CultureInfo.InvariantCulture,
                        $"regime '{name}' is too short: {rows} rows leave {stream} to stream after {SequenceRegime.UnseenRows(rows)} kept unseen; " +
                        $"a regime needs at least {minimum} to be detected and labelled ({rule}), so at least {MinimumFileRows(minimum)} rows in its files"));
                }

                regimes.Add(new SequenceRegime(name, null, files.Images, files.Labels));
            }
            else if (DriftScenario.TryParse(name, out var scenario) && scenario!.Kind != "none")
            {
                if (BuiltInStreamRows < minimum)
                {
                    throw new UserErrorException(string.Create(CultureInfo.InvariantCulture,
                        $"regime '{name}' is too short: {BuiltInStreamRows} test images to stream, at least {minimum} are needed to be detected and labelled ({rule})"));
                }

                regimes.Add(new SequenceRegime(scenario.Name, scenario, null, null));
            }
            else
            {
                throw new UserErrorException(
                    $"unknown regime '{name}' in --sequence: use a scenario (rotate-DEG, noise-SIGMA, contrast-F, brightness-D, blur-SIGMA, invert, prior-shift-KEEP) " +
                    $"or define it with --regime {name}=IMAGES.idx.gz:LABELS.idx.gz");
            }
        }

        var unused = defined.Keys.Where(k => !names.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unused.Count > 0)
        {
            throw new UserErrorException($"--regime {unused[0]} is defined but not in --sequence");
        }

        return new SequenceOptions { Regimes = regimes, MinimumRows = minimum };
    }

    /// <summary>The smallest file whose streamed part reaches <paramref name="minimum"/>.</summary>
    private static int MinimumFileRows(int minimum)
    {
        var n = minimum;
        while (n - SequenceRegime.UnseenRows(n) < minimum)
        {
            n++;
        }

        return n;
    }

    /// <summary>Reads both files as a user's dataset (FashionMnist.LoadIdx's checks); the row count.</summary>
    private static int CheckFiles(string name, string images, string labels)
    {
        foreach (var path in new[] { images, labels })
        {
            if (!File.Exists(path))
            {
                throw new UserErrorException($"regime '{name}': no file {path}");
            }
        }

        try
        {
            using var data = FashionMnist.LoadIdx(images, labels);
            return data.Count;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or FormatException or ArgumentException or EndOfStreamException)
        {
            throw new UserErrorException($"regime '{name}': {ex.Message}");
        }
    }
}
