using System.Text.RegularExpressions;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// The few facts the deployment tests read from <c>kubectl kustomize</c> output. Kustomize prints normalised block
/// YAML (two-space indents, one key per line), so a line reader suffices and no YAML library is needed.
/// </summary>
public sealed partial class RenderedManifest(string yaml)
{
    public string Yaml { get; } = yaml;

    private string[] Lines => Yaml.Split('\n');

    /// <summary>The names in every container's <c>env:</c> list, in order (duplicates kept, so a test can find them).</summary>
    public IReadOnlyList<string> EnvNames()
    {
        var names = new List<string>();
        var lines = Lines;
        for (int i = 0; i < lines.Length; i++)
        {
            var env = EnvKey().Match(lines[i]);
            if (!env.Success) continue;
            int keyIndent = env.Groups["indent"].Length + env.Groups["dash"].Length;
            for (int j = i + 1; j < lines.Length; j++)
            {
                int indent = lines[j].Length - lines[j].TrimStart().Length;
                if (lines[j].Trim().Length == 0) continue;
                if (indent < keyIndent || (indent == keyIndent && !lines[j].TrimStart().StartsWith("- "))) break;
                var item = ListItemName().Match(lines[j]);
                if (item.Success && item.Groups["indent"].Length == keyIndent) names.Add(item.Groups["name"].Value);
            }
        }
        return names;
    }

    /// <summary>The value given to env var <paramref name="name"/> (literal values only).</summary>
    public string? EnvValue(string name)
    {
        var lines = Lines;
        for (int i = 0; i + 1 < lines.Length; i++)
            if (lines[i].Trim() == $"- name: {name}" && lines[i + 1].Trim().StartsWith("value: "))
                return lines[i + 1].Trim()["value: ".Length..].Trim('"');
        return null;
    }

    public bool Contains(string text) => Yaml.Contains(text, StringComparison.Ordinal);

    /// <summary>The integer after <c>key:</c> on the first line that has it.</summary>
    public int Int(string key) =>
        int.Parse(Lines.First(l => l.TrimStart().StartsWith(key + ":")).Split(':', 2)[1].Trim().Trim('"'));

    [GeneratedRegex(@"^(?<indent>\s*)(?<dash>- )?env:\s*$")]
    private static partial Regex EnvKey();

    [GeneratedRegex(@"^(?<indent>\s*)- name: (?<name>\S+)\s*$")]
    private static partial Regex ListItemName();
}
