namespace SpecEdge.Grains.Sessions;

/// <summary>
/// A step's state write failed, so the step was rolled back to the last durable state: nobody has seen its tokens.
/// An edge re-attaches (its tokens come from the session again) and drafts on; the server loop redoes the step.
/// </summary>
[GenerateSerializer, Alias("specedge.StepNotDurableException")]
public sealed class StepNotDurableException : InvalidOperationException
{
    public StepNotDurableException() { }
    public StepNotDurableException(string message) : base(message) { }
}
