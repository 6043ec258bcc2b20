using System.Collections;
using System.Reflection;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// The configuration keys a silo reads, found in its code rather than listed by hand: every options class of the silo
/// and grains assemblies with a <c>public const string Section</c> contributes <c>Section__Property</c>; environment
/// variables read directly (POD_IP, ...) must appear as string literals in the silo's sources; and a short list of keys
/// of the .NET host itself.
/// </summary>
public static class SiloConfigurationKeys
{
    /// <summary>Read by ASP.NET Core / the generic host, not by our code.</summary>
    public static readonly string[] HostKeys = ["ASPNETCORE_URLS", "shutdownTimeoutSeconds", "DOTNET_RUNNING_IN_CONTAINER"];

    /// <summary>Why <paramref name="envName"/> is not a key the silo reads, or null when it is.</summary>
    public static string? Problem(string envName)
    {
        if (HostKeys.Contains(envName)) return null;
        var parts = envName.Split("__");
        if (parts.Length == 1)
            return SiloSources().Any(source => source.Contains($"\"{envName}\"", StringComparison.Ordinal))
                ? null : $"{envName}: no section, and the silo's code never reads it by name";
        if (parts[0] == "Logging") return null;
        if (!Sections.Value.TryGetValue(parts[0], out var type))
            return $"{envName}: the silo has no configuration section '{parts[0]}' (sections: {string.Join(", ", Sections.Value.Keys)})";
        var property = type.GetProperty(parts[1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || !property.CanWrite)
            return $"{envName}: {type.Name} has no settable property '{parts[1]}'";
        bool dictionary = typeof(IDictionary).IsAssignableFrom(property.PropertyType);
        if (parts.Length > 2 && !dictionary) return $"{envName}: {type.Name}.{property.Name} has no sub-keys";
        if (parts.Length == 2 && dictionary) return $"{envName}: {type.Name}.{property.Name} needs a key ({envName}__<id>)";
        return null;
    }

    private static readonly Lazy<Dictionary<string, Type>> Sections = new(() =>
    {
        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (var assembly in new[] { SiloAssembly(), typeof(SpecEdge.Grains.Hosting.SpecEdgeSiloOptions).Assembly })
            foreach (var type in LoadableTypes(assembly))
                if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field && field.GetRawConstantValue() is string name)
                    sections[name] = type;
        return sections;
    });

    // The silo's ASP.NET Core types cannot load in the test host (no ASP.NET Core framework reference); options classes can.
    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try { return assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { return e.Types.OfType<Type>(); }
    }

    internal static Assembly SiloAssembly()
    {
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string path = Path.Combine(ClusterFixture.RepoRoot(), "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo.dll");
        if (!File.Exists(path)) throw new FileNotFoundException($"silo build missing: {path}");
        return new SiloInspectionContext(path).LoadFromAssemblyPath(path);
    }

    /// <summary>
    /// The silo assembly is loaded for inspection in a context of its own, never into the test host's default one:
    /// Orleans scans every assembly of the default context when a client or silo starts in this process, and would then
    /// try to load the silo's dependencies (e.g. Orleans.Dashboard), which the test host does not carry.
    /// </summary>
    private sealed class SiloInspectionContext(string path) : System.Runtime.Loader.AssemblyLoadContext("silo-inspection")
    {
        private readonly System.Runtime.Loader.AssemblyDependencyResolver _resolver = new(path);

        protected override Assembly? Load(AssemblyName name) =>
            _resolver.ResolveAssemblyToPath(name) is { } file ? LoadFromAssemblyPath(file) : null;
    }

    private static IEnumerable<string> SiloSources() =>
        Directory.EnumerateFiles(Path.Combine(ClusterFixture.RepoRoot(), "silo"), "*.cs").Select(File.ReadAllText);
}
