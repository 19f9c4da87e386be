namespace Pipeline.Packaging.Tests;

/// <summary>Someone who clones the repository has only the repository: docs and code must not send them elsewhere.</summary>
public class DocsTests
{
    private static readonly string[] Outside = ["DESIGN.md", "ENVIRONMENT.md", "STYLE.md", "../shared/"];

    [Fact]
    public void No_file_refers_to_documents_outside_the_repository()
    {
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(RepoPaths.Root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(RepoPaths.Root, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj" or ".git" or ".pipeline" or "TestResults")
                || Path.GetExtension(file) is not (".md" or ".cs" or ".json" or ".yml" or ".yaml" or ".sh" or ".py" or "")
                || relative == Path.Combine("tests", "Pipeline.Packaging.Tests", "DocsTests.cs"))
            {
                continue;
            }

            var text = File.ReadAllText(file);
            offenders.AddRange(Outside.Where(o => text.Contains(o, StringComparison.Ordinal)).Select(o => $"{relative}: {o}"));
        }

        Assert.Empty(offenders);
    }

    [Fact]
    public void Every_relative_link_in_the_docs_points_at_a_file_that_exists()
    {
        var broken = new List<string>();
        var docs = Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs"), "*.md").Append(Path.Combine(RepoPaths.Root, "README.md"));
        foreach (var doc in docs)
        {
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(doc), @"\]\(([^)#:\s]+)(#[^)]*)?\)"))
            {
                var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(doc)!, m.Groups[1].Value));
                if (!File.Exists(target) && !Directory.Exists(target))
                {
                    broken.Add($"{Path.GetFileName(doc)} → {m.Groups[1].Value}");
                }
            }
        }

        Assert.Empty(broken);
    }
}
