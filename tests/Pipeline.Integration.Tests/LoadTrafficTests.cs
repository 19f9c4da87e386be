using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Cli.Benchmarks;

namespace Pipeline.Integration.Tests;

/// <summary><c>bench load</c>'s traffic: --seconds bounds the sending even when the API cannot keep up.</summary>
public class LoadTrafficTests
{
    [Fact]
    public async Task No_request_leaves_after_the_deadline_when_the_api_falls_behind()
    {
        // A real HTTP server that takes 400 ms per request: 32 in flight at most, so about 80 requests per second.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        var received = 0;
        app.MapPost("/models/{model}/predict", async (HttpContext http) =>
        {
            Interlocked.Increment(ref received);
            await Task.Delay(400);
            await http.Response.WriteAsJsonAsync(new { batchId = Guid.NewGuid() });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        var images = Enumerable.Range(0, 4).Select(i => new float[784]).ToArray();
        // 10,000 rows/s for 2 s planned: 2,000 requests of 10 rows, far more than the server answers in 2 s.
        var plan = LoadMath.Plan(20_000, 10, 1, 10_000);

        var clock = Stopwatch.StartNew();
        var sent = await new LoadTraffic(http, ["m"], images, LoadProtocol.Binary).RunAsync(plan, null, CancellationToken.None, TimeSpan.FromSeconds(2));

        Assert.InRange(clock.Elapsed.TotalSeconds, 1.9, 6.0);
        Assert.InRange(sent.Count, 40, 400);
        Assert.All(sent, s => Assert.True(s.SentAt - sent.Min(x => x.SentAt) <= TimeSpan.FromSeconds(2.1)));
        Assert.Equal(sent.Count, received);
        Assert.All(sent, s => Assert.NotNull(s.BatchId));
        await app.StopAsync();
    }
}
