namespace SpecEdge.Inference;

/// <summary>Refusals passed up a layer under the name that layer's callers know.</summary>
public static class ArgumentExceptions
{
    /// <summary>The refusal's own words (without .NET's " (Parameter 'x')" suffix).</summary>
    public static string Text(this ArgumentException e) =>
        e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;

    /// <summary>The same refusal, naming <paramref name="parameter"/> instead.</summary>
    public static ArgumentException Renamed(this ArgumentException e, string parameter) => new(e.Text(), parameter);
}
