namespace SpecEdge.OpenAi;

/// <summary><c>GET /v1/models</c>: the models this server answers for.</summary>
public sealed record ModelList(ModelCard[] Data)
{
    public string Object => "list";
}

public sealed record ModelCard(string Id, long Created, string OwnedBy)
{
    public string Object => "model";
}
