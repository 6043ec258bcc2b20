namespace SpecEdge.TestSupport;

/// <summary>--key value pairs from the command line, with typed defaults.</summary>
public sealed class BenchOptions(Dictionary<string, string> values)
{
    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--")) throw new ArgumentException($"Unexpected argument '{args[i]}'; options look like --name value.");
            string key = args[i][2..];
            values[key] = i + 1 < args.Length && !args[i + 1].StartsWith("--") ? args[++i] : "true";
        }
        return new BenchOptions(values);
    }

    /// <summary>The option names given (without the leading --).</summary>
    public IEnumerable<string> Names => values.Keys;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming every option given that is not in <paramref name="known"/>, so a
    /// misspelt flag fails at once instead of a long run quietly taking the default. <paramref name="what"/> names the command.
    /// </summary>
    public void CheckKnown(IEnumerable<string> known, string what)
    {
        var set = known.ToHashSet();
        var unknown = Names.Where(n => !set.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"{what} has no option {string.Join(", ", unknown.Select(n => "--" + n))}; its options are {string.Join(" ", set.Order(StringComparer.Ordinal).Select(n => "--" + n))}.");
    }

    public int Int(string key, int fallback) => values.TryGetValue(key, out var v) ? int.Parse(v) : fallback;
    public double Double(string key, double fallback) => values.TryGetValue(key, out var v) ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
    public string String(string key, string fallback) => values.TryGetValue(key, out var v) ? v : fallback;
    public int[] Ints(string key, int[] fallback) => values.TryGetValue(key, out var v) ? v.Split(',').Select(int.Parse).ToArray() : fallback;
    public double[] Doubles(string key, double[] fallback) => values.TryGetValue(key, out var v)
        ? v.Split(',').Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray() : fallback;
}
