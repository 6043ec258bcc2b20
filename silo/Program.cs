// Placeholder host: the Orleans silo arrives with the Orleans service issue.
Console.WriteLine("SpecEdge silo: not implemented yet.");
