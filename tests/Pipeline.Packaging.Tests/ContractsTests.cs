using System.Reflection;
using System.Text.Json;
using FluentValidation;
using Pipeline.Contracts;
using Pipeline.Contracts.Validation;

namespace Pipeline.Packaging.Tests;

public class ContractsTests
{
    private static readonly Assembly Contracts = typeof(IPipelineMessage).Assembly;
    private const string Sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// <summary>Every message of the docs/architecture.md table, by name.</summary>
    public static readonly TheoryData<string> MessageNames = new()
    {
        "ModelVersionRegistered", "ObservationsIngested", "LabelsObserved", "DriftDetected", "SensitivityScored",
        "TuningProgress", "CandidateTrained", "CandidateEvaluated", "ApprovalRequested", "CandidateApproved",
        "CandidateRejected", "ModelDeployed", "ModelRolledBack", "AdaptationRunFailed", "ApproveCandidate",
        "RejectCandidate", "RollbackModel", "PauseAdaptation", "ResumeAdaptation", "StartAdaptation",
        "RegisterModel", "ListModels", "ModelCatalog", "CommandAccepted", "CommandRefused", "ListRuns", "RunList", "GetRun", "RunDetails", "DriftWindowEvaluated",
    };

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Every_message_is_an_immutable_record_in_a_namespace_with_a_validator(string name)
    {
        var type = Contracts.GetType("Pipeline.Contracts." + name);
        Assert.NotNull(type);
        Assert.Equal("Pipeline.Contracts", type.Namespace);
        Assert.NotNull(type.GetMethod("<Clone>$")); // records are compiled with a clone method
        foreach (var p in type.GetProperties())
        {
            var setter = p.SetMethod;
            Assert.True(setter is null || setter.ReturnParameter.GetRequiredCustomModifiers().Any(m => m.Name == "IsExternalInit"),
                $"{name}.{p.Name} must be init-only");
        }

        var validatorType = typeof(IValidator<>).MakeGenericType(type);
        Assert.Contains(Contracts.GetTypes(), t => !t.IsAbstract && validatorType.IsAssignableFrom(t));
    }

    [Fact]
    public void Valid_drift_detected_passes_and_broken_one_lists_every_error()
    {
        var ok = new DriftDetected
        {
            RunId = Guid.NewGuid(), ModelId = "fashion", ModelVersion = 1, WindowId = "w-1",
            Severity = DriftSeverity.High, DatasetDriftScore = 0.7,
            TopFeatures = [new FeatureDriftScore { Name = "x1", Test = "ks", Statistic = 0.4, PValue = 0.001, Drifted = true }],
        };
        Assert.True(new DriftDetectedValidator().Validate(ok).IsValid);

        var bad = ok with { RunId = Guid.Empty, ModelId = "Not Valid!", DatasetDriftScore = 1.5, ModelVersion = 0 };
        var result = new DriftDetectedValidator().Validate(bad);
        Assert.False(result.IsValid);
        var props = result.Errors.Select(e => e.PropertyName).ToHashSet();
        Assert.Superset(new HashSet<string> { "RunId", "ModelId", "DatasetDriftScore", "ModelVersion" }, props);
    }

    [Fact]
    public void Observations_must_have_one_prediction_per_row_and_a_hashed_payload()
    {
        var ok = new ObservationsIngested
        {
            ModelId = "fashion", ModelVersion = 2, BatchId = Guid.NewGuid(), Count = 3, FeatureCount = 784,
            Features = new PayloadRef { Uri = "artifact://observations/b1.bin", Sha256 = Sha, SizeBytes = 3 * 784 * 4 },
            Predictions = [1, 2, 3], Confidences = [0.9f, 0.5f, 0.2f],
        };
        Assert.True(new ObservationsIngestedValidator().Validate(ok).IsValid);
        Assert.False(new ObservationsIngestedValidator().Validate(ok with { Predictions = [1, 2] }).IsValid);
        Assert.False(new ObservationsIngestedValidator().Validate(ok with { Confidences = [0.9f, 1.5f, 0.2f] }).IsValid);
        Assert.False(new ObservationsIngestedValidator().Validate(
            ok with { Features = ok.Features with { Sha256 = "nothex" } }).IsValid);
        Assert.False(new ObservationsIngestedValidator().Validate(ok with { Labels = [0, -1, 2] }).IsValid);
    }

    [Fact]
    public void Candidate_version_must_follow_its_base_and_strategy_must_be_known()
    {
        var ok = new CandidateTrained
        {
            RunId = Guid.NewGuid(), ModelId = "fashion", BaseVersion = 1, CandidateVersion = 2,
            ArtifactUri = "artifact://models/fashion/2/model.bin", Sha256 = Sha, Strategy = "mist",
            SelectedFraction = 0.04, UpdatedFractionPerStep = 0.004, Steps = 100, TrainSeconds = 12.5, Device = "cpu",
            ShiftedHoldout = new PayloadRef { Uri = "artifact://datasets/r1/holdout.pfb", Sha256 = Sha },
        };
        var v = new CandidateTrainedValidator();
        Assert.True(v.Validate(ok).IsValid);
        Assert.False(v.Validate(ok with { CandidateVersion = 1 }).IsValid);
        Assert.False(v.Validate(ok with { Strategy = "magic" }).IsValid);
        Assert.False(v.Validate(ok with { SelectedFraction = double.NaN }).IsValid);
    }

    [Fact]
    public void Train_candidate_names_a_servable_engine_v2_strategy_or_none()
    {
        var holdout = new PayloadRef { Uri = "artifact://datasets/r1/holdout.pfb", Sha256 = Sha };
        var ok = new TrainCandidate
        {
            RunId = Guid.NewGuid(), ModelId = "fashion", BaseVersion = 1, MaskUri = "artifact://masks/r1/mask.bin", Sha256 = Sha,
            SelectedFraction = 0.04, AdaptationSetId = Guid.NewGuid(), AdaptationSet = holdout, ShiftedHoldout = holdout,
        };
        var v = new TrainCandidateValidator();
        Assert.True(v.Validate(ok).IsValid);
        Assert.All(StrategyRegistry.Servable, s => Assert.True(v.Validate(ok with { Strategy = s }).IsValid));
        // mist-ridge's readout is saved in the model file and served by it; retrain needs the original training set.
        Assert.True(v.Validate(ok with { Strategy = "mist-ridge" }).IsValid);
        Assert.False(v.Validate(ok with { Strategy = "retrain" }).IsValid);
        Assert.Contains("servable", v.Validate(ok with { Strategy = "magic" }).Errors.Single().ErrorMessage);
    }

    [Fact]
    public void Operator_commands_need_a_reason()
    {
        Assert.True(new ApproveCandidateValidator().Validate(new ApproveCandidate { RunId = Guid.NewGuid(), Reason = "looks good" }).IsValid);
        Assert.False(new ApproveCandidateValidator().Validate(new ApproveCandidate { RunId = Guid.NewGuid(), Reason = "" }).IsValid);
        Assert.False(new RollbackModelValidator().Validate(new RollbackModel { ModelId = "fashion", ToVersion = 0, Reason = "x" }).IsValid);
        Assert.False(new PauseAdaptationValidator().Validate(new PauseAdaptation { ModelId = "fashion", Reason = " " }).IsValid);
        Assert.True(new StartAdaptationValidator().Validate(new StartAdaptation { ModelId = "fashion", Reason = "manual" }).IsValid);
    }

    [Fact]
    public void Messages_round_trip_through_camel_case_json_as_an_amqp_client_would_send_them()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        var json = """{"runId":"6a3e5f0e-2f7e-4d7b-9f0a-3a1c6f6d2b11","reason":"ok by me","timestamp":"2026-11-22T10:00:00Z"}""";
        var cmd = JsonSerializer.Deserialize<ApproveCandidate>(json, options)!;
        Assert.Equal(Guid.Parse("6a3e5f0e-2f7e-4d7b-9f0a-3a1c6f6d2b11"), cmd.RunId);
        Assert.Equal("ok by me", cmd.Reason);
        Assert.True(new ApproveCandidateValidator().Validate(cmd).IsValid);
        // A body without a required member does not deserialize into a half-built command.
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ApproveCandidate>("""{"reason":"x"}""", options));
    }
}
