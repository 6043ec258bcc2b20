using Xunit;

namespace SpecEdge.Persistence.Tests;

/// <summary>Test classes in this collection share one Azurite process (about 1-2 s to start).</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
