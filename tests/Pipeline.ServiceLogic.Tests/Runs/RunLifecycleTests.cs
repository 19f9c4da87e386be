using Pipeline.AdaptationRuns;
using Pipeline.Storage.Repositories;

namespace Pipeline.ServiceLogic.Tests.Runs;

/// <summary>The run's one transition table (RunLifecycle), which the owner checks every step against.</summary>
public sealed class RunLifecycleTests
{
    [Theory]
    [InlineData(RunState.Detected, RunState.Scoring, true)]
    [InlineData(RunState.Evaluating, RunState.Deploying, true)]
    [InlineData(RunState.Evaluating, RunState.Rejected, true)]
    [InlineData(RunState.AwaitingApproval, RunState.Rejected, true)]
    [InlineData(RunState.Tuning, RunState.Failed, true)]
    [InlineData(RunState.Detected, RunState.Tuning, false)]
    [InlineData(RunState.Deployed, RunState.Failed, false)]
    [InlineData(RunState.Rejected, RunState.Deploying, false)]
    [InlineData(RunState.Tuning, RunState.Rejected, false)]
    public void State_machine_rules(RunState from, RunState to, bool allowed) => Assert.Equal(allowed, RunLifecycle.CanTransition(from, to));

    [Fact]
    public void Illegal_transitions_throw()
    {
        Assert.Throws<InvalidOperationException>(() => RunLifecycle.EnsureAllowed(RunState.Detected, RunState.Deployed));
        Assert.Throws<InvalidOperationException>(() => RunLifecycle.EnsureAllowed(RunState.Failed, RunState.Scoring));
        RunLifecycle.EnsureAllowed(RunState.Detected, RunState.Scoring);
    }
}
