using System.Globalization;
using System.Net;
using System.Text;

namespace Pipeline.Standalone.Demo;

/// <summary>A moment on the chart: drift (a run raised), run (scoring done, tuning), deploy, reject.</summary>
public sealed record ChartMarker(double Seconds, string Kind, string Label);

/// <summary>Where a regime begins on the chart.</summary>
public sealed record ChartRegime(double Seconds, string Name);

/// <summary>Live accuracy of one traffic batch at a moment of the stream.</summary>
public sealed record ChartPoint(double Seconds, double Accuracy);

/// <summary>
/// The continual demo's chart as a self-contained SVG: the production model's live accuracy over time (a moving
/// average of the labelled batches), the regime boundaries, and the drift, run and deploy markers.
/// </summary>
public static class AccuracyChart
{
    private const int Width = 1000, Height = 380, Left = 55, Right = 20, Top = 40, Bottom = 50;

    public static string Svg(IReadOnlyList<ChartPoint> points, IReadOnlyList<ChartRegime> regimes, IReadOnlyList<ChartMarker> markers, string title, int smooth = 4)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(regimes);
        ArgumentNullException.ThrowIfNull(markers);
        var end = Math.Max(1, Math.Max(points.Count == 0 ? 0 : points.Max(p => p.Seconds), markers.Count == 0 ? 0 : markers.Max(m => m.Seconds)));
        var start = Math.Min(regimes.Count == 0 ? 0 : regimes.Min(r => r.Seconds), points.Count == 0 ? 0 : points.Min(p => p.Seconds));
        double X(double s) => Left + ((s - start) / Math.Max(1e-9, end - start) * (Width - Left - Right));
        double Y(double a) => Top + ((1 - a) * (Height - Top - Bottom));
        static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"18\" font-size=\"14\">{WebUtility.HtmlEncode(title)}</text>\n");
        for (var a = 0.0; a <= 1.0001; a += 0.2)
        {
            svg.Append(CultureInfo.InvariantCulture,
                $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(Y(a))}\" y2=\"{F(Y(a))}\" stroke=\"#ddd\"/><text x=\"{Left - 6}\" y=\"{F(Y(a) + 4)}\" text-anchor=\"end\">{a:0.0}</text>\n");
        }

        var shades = new[] { "#f4f4f4", "#ffffff" };
        for (var i = 0; i < regimes.Count; i++)
        {
            var x0 = X(regimes[i].Seconds);
            var x1 = i + 1 < regimes.Count ? X(regimes[i + 1].Seconds) : Width - Right;
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect class=\"regime\" x=\"{F(x0)}\" y=\"{Top}\" width=\"{F(Math.Max(0, x1 - x0))}\" height=\"{Height - Top - Bottom}\" fill=\"{shades[i % 2]}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>" +
                $"<text x=\"{F(x0 + 4)}\" y=\"{Top + 14}\">{WebUtility.HtmlEncode(regimes[i].Name)}</text>\n");
        }

        if (points.Count > 0)
        {
            var line = new StringBuilder();
            for (var i = 0; i < points.Count; i++)
            {
                var from = Math.Max(0, i - smooth + 1);
                var mean = points.Skip(from).Take(i - from + 1).Average(p => p.Accuracy);
                line.Append(CultureInfo.InvariantCulture, $"{(i == 0 ? "M" : " L")}{F(X(points[i].Seconds))},{F(Y(mean))}");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<path class=\"accuracy\" d=\"{line}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n");
        }

        var colours = new Dictionary<string, string> { ["drift"] = "#d62728", ["run"] = "#ff7f0e", ["deploy"] = "#2ca02c", ["reject"] = "#7f7f7f" };
        foreach (var m in markers)
        {
            var colour = colours.GetValueOrDefault(m.Kind, "#000");
            svg.Append(CultureInfo.InvariantCulture,
                $"<line class=\"marker {m.Kind}\" x1=\"{F(X(m.Seconds))}\" x2=\"{F(X(m.Seconds))}\" y1=\"{Top}\" y2=\"{Height - Bottom}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>" +
                $"<text x=\"{F(X(m.Seconds) + 2)}\" y=\"{Height - Bottom - 4}\" fill=\"{colour}\" font-size=\"10\">{WebUtility.HtmlEncode(m.Label)}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">seconds ({F(start)} to {F(end)}); live accuracy, mean of the last {smooth} labelled batches; " +
            $"markers: drift (red), run (orange), deploy (green), rejected (grey)</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
