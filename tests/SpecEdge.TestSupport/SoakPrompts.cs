namespace SpecEdge.TestSupport;

/// <summary>
/// The soak's prompts: openings of the Brown corpus's kind, which the demo pair continues. The early-exit benchmark
/// measures its bets on the same ones, so the two report on the same text.
/// </summary>
public static class SoakPrompts
{
    public static readonly IReadOnlyList<string> All =
    [
        "The history of the city", "He said that the committee", "In the morning the farmers", "The new law will",
        "She looked at the house and", "The president of the company", "It was the first time that", "Most of the students",
    ];
}
