using System.Text;
using System.Text.RegularExpressions;

namespace SpecEdge.Cluster.Tests.Documentation;

/// <summary>
/// Renders docs/configuration.md from the options classes' own source: every class with a
/// <c>public const string Section</c> becomes a table of its settable properties (option, default as written, meaning
/// from its summary, environment variable). Read from source rather than reflection so that defaults read as they are
/// written (<c>TimeSpan.FromHours(12)</c>) and meanings need no XML documentation build.
/// </summary>
public static partial class ConfigurationReference
{
    /// <summary>Where the options classes live and which program reads them.</summary>
    private static readonly (string Directory, string UsedBy)[] Sources =
    {
        ("silo", "silo"), ("grains", "silo"), ("openai", "silo and `edge-host --serve`"),
        ("edge-host", "edge host"), ("edge-client", "edge host"), ("contracts", "edge host and Orleans clients"),
    };

    public static string Render(string root)
    {
        var text = new StringBuilder();
        text.AppendLine("# Configuration reference");
        text.AppendLine();
        text.AppendLine("Generated from the options classes' source by `ConfigurationReferenceTests` (a test fails when this page is stale;");
        text.AppendLine("`SPECEDGE_UPDATE_DOCS=1 dotnet test tests/SpecEdge.Cluster.Tests --filter ConfigurationReference` rewrites it).");
        text.AppendLine("Every option is read from appsettings.json, the environment (`Section__Option`) and the command line");
        text.AppendLine("(`--Section:Option value`); the edge host also has short switches (README, \"Edge host\").");
        foreach (var (directory, usedBy) in Sources)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(root, directory), "*.cs", SearchOption.AllDirectories)
                         .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/")).OrderBy(f => f, StringComparer.Ordinal))
            {
                string source = File.ReadAllText(file);
                var section = SectionConst().Match(source);
                if (!section.Success) continue;
                var type = ClassDeclaration().Match(source);
                text.AppendLine();
                text.AppendLine($"## `{section.Groups[1].Value}` ({type.Groups["name"].Value}, read by the {usedBy})");
                text.AppendLine();
                if (type.Groups["doc"].Success) text.AppendLine(Prose(type.Groups["doc"].Value));
                text.AppendLine();
                text.AppendLine($"Source: `{Path.GetRelativePath(root, file)}`.");
                text.AppendLine();
                text.AppendLine("| option | default | meaning | environment |");
                text.AppendLine("|---|---|---|---|");
                foreach (Match p in Property().Matches(source))
                {
                    string name = p.Groups["name"].Value;
                    string value = p.Groups["default"].Success ? p.Groups["default"].Value.Trim() : Implicit(p.Groups["type"].Value);
                    if (value == "new()") value = "(empty)";
                    string meaning = p.Groups["doc"].Success ? Prose(p.Groups["doc"].Value) : "";
                    text.AppendLine($"| `{name}` | {Cell(value)} | {Cell(meaning)} | `{section.Groups[1].Value}__{name}` |");
                }
            }
        }
        return text.ToString();
    }

    /// <summary>A property without an initializer has its type's default.</summary>
    private static string Implicit(string type) => type.TrimEnd() switch
    {
        var t when t.EndsWith('?') => "(none)",
        "bool" => "false",
        "int" or "long" or "double" or "ulong" => "0",
        _ => "(empty)",
    };

    /// <summary>A doc comment as one line of Markdown.</summary>
    private static string Prose(string doc)
    {
        string text = string.Join(" ", doc.Split('\n').Select(l => l.Trim().TrimStart('/').Trim()));
        text = Regex.Replace(text, "</?summary>|</?para>|</?remarks>", " ");
        text = Regex.Replace(text, "<c>(.*?)</c>", "`$1`");
        text = Regex.Replace(text, "<see cref=\"(?:[^\"]*\\.)?([^\".]+)\"\\s*/>", "`$1`");
        text = Regex.Replace(text, "<(?:paramref|typeparamref) name=\"([^\"]+)\"\\s*/>", "`$1`");
        text = Regex.Replace(text, "<[^>]+>", "");
        text = text.Replace("&lt;", "<").Replace("&gt;", ">").Replace("&amp;", "&");
        return Regex.Replace(text, "\\s+", " ").Trim();
    }

    private static string Cell(string text) => text.Replace("|", "\\|");

    [GeneratedRegex("public const string Section = \"([^\"]+)\";")]
    private static partial Regex SectionConst();

    [GeneratedRegex(@"(?<doc>(?:^[ \t]*///[^\n]*\n)+)?^public (?:sealed )?(?:record |class )(?<name>\w+)", RegexOptions.Multiline)]
    private static partial Regex ClassDeclaration();

    [GeneratedRegex(@"(?<doc>(?:^[ \t]*///[^\n]*\n)+)?^[ \t]*public (?<type>[\w<>\[\]?, .]+?) (?<name>\w+) \{ get; (?:set|init); \}(?: = (?<default>[^;]+);)?", RegexOptions.Multiline)]
    private static partial Regex Property();
}
