// Marks chosen symbol-version requirements of an ELF64 shared library as weak (VER_FLG_WEAK), so that the
// dynamic loader accepts the library on a system whose libstdc++ lacks that version tag.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so asks for GLIBCXX_3.4.32, which Debian 12 (3.4.30) lacks. The only
// symbol tagged with it is never resolved (a .globl reference without a relocation), so making the requirement weak
// is safe. We patch only the build's output copy, never the NuGet cache, and keep the file's timestamp so that
// incremental copies do not fight the patch.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class ElfVersionNeedPatcher : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Shared libraries to patch (missing files are ignored).</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Semicolon-separated version names to mark weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string Versions { get; set; } = "";

    public override bool Execute()
    {
        var wanted = Versions.Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries);
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                int patched = Patch(path, wanted);
                if (patched > 0)
                    Log.LogMessage(MessageImportance.High, $"Marked {patched} version requirement(s) weak in {path}");
            }
            catch (Exception e)
            {
                Log.LogError($"Could not patch ELF version requirements of '{path}': {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static int Patch(string path, string[] wanted)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (bytes[4] != 2 || bytes[5] != 1)
            throw new InvalidDataException("only little-endian ELF64 is supported");

        long shoff = (long)BitConverter.ToUInt64(bytes, 0x28);
        int shentsize = BitConverter.ToUInt16(bytes, 0x3A);
        int shnum = BitConverter.ToUInt16(bytes, 0x3C);
        var edits = new System.Collections.Generic.List<long>();

        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(bytes, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(bytes, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(bytes, (int)sh + 0x28);
            uint count = BitConverter.ToUInt32(bytes, (int)sh + 0x2C);
            long strtab = (long)BitConverter.ToUInt64(bytes, (int)(shoff + (long)link * shentsize) + 0x18);

            long need = offset;
            for (uint n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(bytes, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(bytes, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    ushort flags = BitConverter.ToUInt16(bytes, (int)aux + 4);
                    string name = ReadCString(bytes, strtab + BitConverter.ToUInt32(bytes, (int)aux + 8));
                    if (Array.IndexOf(wanted, name) >= 0 && (flags & VerFlgWeak) == 0)
                        edits.Add(aux + 4);
                    uint nextAux = BitConverter.ToUInt32(bytes, (int)aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint nextNeed = BitConverter.ToUInt32(bytes, (int)need + 12);
                if (nextNeed == 0) break;
                need += nextNeed;
            }
        }
        if (edits.Count == 0) return 0;

        var stamp = File.GetLastWriteTimeUtc(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            foreach (var at in edits)
            {
                ushort flags = (ushort)(BitConverter.ToUInt16(bytes, (int)at) | VerFlgWeak);
                stream.Position = at;
                stream.Write(BitConverter.GetBytes(flags), 0, 2);
            }
        }
        File.SetLastWriteTimeUtc(path, stamp);
        return edits.Count;
    }

    private static string ReadCString(byte[] bytes, long at)
    {
        int end = (int)at;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)at, end - (int)at);
    }
}
