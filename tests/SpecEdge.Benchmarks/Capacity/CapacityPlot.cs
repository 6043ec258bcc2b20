using ScottPlot;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>Throughput and ITL against the number of edges (sessions), one line per mode and server, two panels side by side, as a PNG.</summary>
public static class CapacityPlot
{
    public static void Save(IReadOnlyList<RooflineProjection> projections, string path, int width = 1400, int height = 560)
    {
        var throughput = new Plot();
        var itl = new Plot();
        var colors = new Dictionary<string, Color>
        {
            ["target-only AR"] = Colors.Gray, ["server-only SD"] = Colors.OrangeRed, ["server-only SD, trees drafted one by one"] = Colors.Purple,
            ["edge-assisted SD"] = Colors.RoyalBlue,
            ["edge-assisted SD + proactive"] = Colors.SeaGreen, ["edge-assisted SD, goodput trimming"] = Colors.DarkOrange,
            ["edge-assisted SD, goodput trimming + hand-back"] = Colors.Crimson,
            ["edge-assisted SD, goodput trimming + server-drafted hand-back"] = Colors.Black,
            ["server-only SD, one by one, drafting where it pays"] = Colors.Olive,
            ["server-only SD, batched, drafting where it pays"] = Colors.Teal,
            ["edge-assisted SD, goodput trimming + batch-drafted hand-back"] = Colors.Magenta,
        };
        for (int p = 0; p < projections.Count; p++)
        {
            var projection = projections[p];
            foreach (var group in projection.Rows.GroupBy(r => r.Mode))
            {
                double[] xs = group.Select(r => Math.Log2(r.Sessions)).ToArray();
                var t = throughput.Add.Scatter(xs, group.Select(r => r.Result.SteadyTokensPerSecond).ToArray(), colors[group.Key]);
                var l = itl.Add.Scatter(xs, group.Select(r => Math.Log10(r.Result.ItlMeanMs)).ToArray(), colors[group.Key]);
                // Each mode once in the legend (the first server's line); the servers differ by line pattern, named in the titles.
                t.LegendText = p == 0 ? group.Key : "";
                foreach (var s in new[] { t, l })
                {
                    s.LineWidth = 2;
                    s.MarkerSize = 6;
                    if (p > 0) s.LinePattern = LinePattern.Dashed;
                }
            }
        }
        var ticks = projections[0].Rows.Select(r => r.Sessions).Distinct().OrderBy(n => n).ToArray();
        string servers = string.Join(", ", projections.Select((pr, i) => $"{(i == 0 ? "solid" : "dashed")}: {pr.Setting.Server.Name}"));
        foreach (var (plot, title, ylabel) in new[] { (throughput, $"Throughput (roofline; {servers})", "tokens/s per server GPU"), (itl, "Inter-token latency (simulated, roofline)", "mean ITL, ms, log scale") })
        {
            plot.Title(title);
            plot.XLabel("edges (sessions), log2 scale");
            plot.YLabel(ylabel);
            plot.Axes.Bottom.SetTicks(ticks.Select(n => Math.Log2(n)).ToArray(), ticks.Select(n => n.ToString()).ToArray());
        }
        // ITL spans three orders of magnitude across the modes: plotted as log10, labelled in ms.
        double[] itlTicks = { 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000 };
        itl.Axes.Left.SetTicks(itlTicks.Select(Math.Log10).ToArray(), itlTicks.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        throughput.ShowLegend(Alignment.UpperLeft);
        throughput.Legend.FontSize = 11;
        var left = throughput.GetImageBytes(width / 2, height, ImageFormat.Png);
        var right = itl.GetImageBytes(width / 2, height, ImageFormat.Png);
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, height));
        using (var a = SkiaSharp.SKBitmap.Decode(left)) surface.Canvas.DrawBitmap(a, 0, 0);
        using (var b = SkiaSharp.SKBitmap.Decode(right)) surface.Canvas.DrawBitmap(b, width / 2, 0);
        using var image = surface.Snapshot();
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, data.ToArray());
    }
}
