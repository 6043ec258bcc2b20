using Microsoft.Extensions.Options;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>The silo's signing keys, loaded once from <see cref="SecurityOptions"/>; a silo without keys does not start.</summary>
public sealed class SigningKeys(IOptions<SecurityOptions> options)
{
    private readonly Lazy<SigningKeySet> _keys = new(() => Load(options.Value));

    public SigningKeySet Value => _keys.Value;

    private static SigningKeySet Load(SecurityOptions o)
    {
        if (o.KeyFile is { Length: > 0 } file)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"Security:KeyFile '{file}' does not exist.");
            return SigningKeySet.Load(file);
        }
        if (o.Keys.Count == 0)
            throw new InvalidOperationException("No signing keys: set Security:KeyFile (infra/local/run.sh creates one) or Security:Keys.");
        return SigningKeySet.FromBase64(o.ActiveKeyId ?? o.Keys.Keys.First(), o.Keys);
    }
}
