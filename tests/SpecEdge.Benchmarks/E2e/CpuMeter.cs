using System.Diagnostics;

namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// Cores in use over an interval, from Linux's /proc: the whole machine's busy time (every CPU's non-idle jiffies) and one
/// process's (its user + system time). On 2 shared cores this says how much of the machine the verifier's silo got while
/// the edge processes drafted beside it. NaN where /proc cannot be read.
/// </summary>
public sealed class CpuMeter(int processId)
{
    private const double JiffiesPerSecond = 100;   // USER_HZ, 100 on every Linux this runs on
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly double _machineStart = MachineBusyJiffies(), _processStart = ProcessJiffies(processId);

    /// <summary>(machine cores busy, the process's cores) on average since the meter was made.</summary>
    public (double Machine, double Process) Read()
    {
        double seconds = _wall.Elapsed.TotalSeconds;
        return ((MachineBusyJiffies() - _machineStart) / JiffiesPerSecond / seconds, (ProcessJiffies(processId) - _processStart) / JiffiesPerSecond / seconds);
    }

    private static double MachineBusyJiffies()
    {
        try
        {
            // "cpu  user nice system idle iowait irq softirq steal ...": busy = all but idle and iowait.
            var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(double.Parse).ToArray();
            return f.Take(8).Sum() - f[3] - f[4];
        }
        catch (Exception) { return double.NaN; }
    }

    private static double ProcessJiffies(int pid)
    {
        try
        {
            // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are the 12th and 13th.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return double.Parse(f[11]) + double.Parse(f[12]);
        }
        catch (Exception) { return double.NaN; }
    }
}
