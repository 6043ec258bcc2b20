// Placeholder host: the Orleans edge client arrives with the Orleans service issue.
Console.WriteLine("SpecEdge edge host: not implemented yet.");
