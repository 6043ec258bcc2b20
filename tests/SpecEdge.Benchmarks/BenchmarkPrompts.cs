namespace SpecEdge.Benchmarks;

/// <summary>
/// The prompt set of the speculative-decoding benchmark: varied tasks (chat, code, summarisation, QA, translation,
/// math, story, instructions), each as raw text to continue and as a user message for chat formatting. The demo models
/// are tiny Brown-corpus models, so the replies are poor; what matters is that every mode decodes the same prompts.
/// </summary>
public static class BenchmarkPrompts
{
    public static readonly IReadOnlyList<(string Task, string Text)> All = new[]
    {
        ("chat", "Hello! I moved to a new city last week and I do not know anyone yet. What would you do on your first weekend?"),
        ("code", "Here is a Python function that returns the largest number in a list:\n\ndef largest(numbers):\n"),
        ("summarisation", "Summarise the following report. The committee met on Tuesday to discuss the budget of the county schools. " +
            "After a long debate the members agreed to raise teachers' salaries and to delay the new gymnasium by one year. Summary:"),
        ("qa", "Question: Why do the leaves of most trees change colour in the autumn?\nAnswer:"),
        ("translation", "Translate into French: The house at the end of the street has been empty for many years.\nFrench:"),
        ("math", "Problem: A farmer has 12 cows and buys 7 more, then sells 5. How many cows does he have now?\nSolution:"),
        ("story", "It was late in the evening when the old man finally returned to the village, carrying a letter"),
        ("instructions", "Write a short letter to the mayor asking him to repair the bridge over the river near the school."),
        ("news", "WASHINGTON, March 3 -- The President said today that the government would"),
        ("opinion", "In my opinion, the most important thing a young person can learn at college is"),
        ("qa", "Question: What is the capital of England, and what river flows through it?\nAnswer:"),
        ("code", "// C# method that counts the words in a sentence\npublic static int CountWords(string sentence)\n{\n"),
        ("dialogue", "\"Where have you been all day?\" asked his mother when he came through the door."),
        ("math", "The sum of two numbers is 30 and their difference is 4. Let the numbers be x and y. Then"),
        ("summarisation", "The article describes how the railroad changed life in the small towns of the West. In one sentence:"),
        ("translation", "English: Good morning, how are you today?\nGerman:"),
    };
}
