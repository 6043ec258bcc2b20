using System.Security.Cryptography;
using System.Text;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// The key local apps present to the edge host's API. Kept in a file (never on a command line); created with a random
/// key, readable by its owner only, when the file does not exist. Compared in constant time.
/// </summary>
public sealed class LocalApiKey
{
    private readonly byte[] _key;

    public string Path { get; }

    public LocalApiKey(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(Path))
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            string fresh = "sk-edge-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            using (var file = new FileStream(Path, FileMode.CreateNew, FileAccess.Write))
            {
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                file.Write(Encoding.UTF8.GetBytes(fresh + "\n"));
            }
        }
        string key = File.ReadAllText(Path).Trim();
        if (key.Length < 16) throw new InvalidOperationException($"Edge:ServeKeyFile '{Path}' holds a key of {key.Length} characters; at least 16 are required.");
        _key = Encoding.UTF8.GetBytes(key);
    }

    public bool Matches(string presented) => CryptographicOperations.FixedTimeEquals(_key, Encoding.UTF8.GetBytes(presented));
}
