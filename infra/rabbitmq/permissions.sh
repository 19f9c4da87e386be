#!/usr/bin/env bash
# Least privilege on one virtual host: each service has its own user that may write only the
# exchanges of the messages it publishes and read only its own queues (and the exchanges of what
# it consumes, which its queues are bound to); operators may write only the command exchanges.
# No user gets a management tag. Service users are tagged impersonator, and only that: moving a
# refused operator command to an error queue republishes it with the operator's user_id, which
# RabbitMQ allows only to impersonators. It cannot forge a command: no service may write a command
# exchange, and the services trust a command's user_id only when it was published to its command
# exchange (Pipeline.Hosting.OperatorIdentity), not to a queue's own exchange. Passwords are never
# in the repository: each comes from the environment, PIPELINE_AMQP_PASSWORD_<USER> (upper case, '-' as '_'); a user without one is skipped.
#   usage: permissions.sh NODE VHOST [operator users...]
set -euo pipefail
node=$1 vhost=$2; shift 2
ctl() { rabbitmqctl -n "$node" -q "$@"; }
existing=$(ctl list_users | awk 'NR > 1 {print $1}')
pids=()

C='Pipeline\.Contracts:'
bus='[^:]*_bus_[^:]*'          # each bus's temporary reply endpoint
# The services publish no faults (PublishFaults = false: a faulted message goes to its _error queue), but
# should one be published, MassTransit declares its exchange and binds it to the base fault exchanges,
# which needs configure, write and read on them (exchange.bind reads its source): without read, the bind
# is refused (403), the channel closes and the endpoint stops consuming.
faults='MassTransit:(Receive)?Fault.*'

# service user, message types it publishes, message types it consumes
service() {
  local user=$1 publishes=$2 consumes=$3
  local var="PIPELINE_AMQP_PASSWORD_$(echo "$user" | tr 'a-z-' 'A-Z_')"
  local password="${!var:-}"
  [ -n "$password" ] || { echo "skipping $user: $var is not set" >&2; return 0; }
  if grep -qx "$user" <<<"$existing"; then ctl change_password "$user" "$password" >/dev/null; else ctl add_user "$user" "$password" >/dev/null; fi
  ctl set_user_tags "$user" impersonator >/dev/null
  # Queues of this service (optionally prefixed, as tests do) and their _error/_skipped companions.
  local own="[a-z0-9-]*(pipeline-)?${user}-.*"
  ctl set_permissions -p "$vhost" "$user" \
    "^(${C}(${publishes}|${consumes})|${own}|${bus}|${faults})\$" \
    "^(${C}(${publishes})|${own}|${bus}|${faults})\$" \
    "^(${C}(${consumes})|${own}|${bus}|${faults})\$" >/dev/null
}

service adaptation-runs \
  'ScoreSensitivity|TrainCandidate|EvaluateCandidate|DeployCandidate|AdaptationRunStarted|AdaptationRunFinished|AdaptationRunFailed|ApprovalRequested|CandidateApproved|CandidateRejected' \
  'DriftDetected|StartAdaptation|SensitivityScored|TuningProgress|CandidateTrained|CandidateEvaluated|ModelDeployed|AdaptationStageFailed|ApproveCandidate|RejectCandidate|ListRuns|GetRun' &
pids+=($!)
service drift-detection 'DriftDetected|DriftWindowEvaluated' \
  'ObservationsIngested|LabelsObserved|ModelVersionRegistered|PauseAdaptation|ResumeAdaptation|AdaptationRunStarted|AdaptationRunFinished' &
pids+=($!)
service sensitivity-scoring 'SensitivityScored|AdaptationStageFailed' 'ScoreSensitivity' &
pids+=($!)
service sparse-tuning 'CandidateTrained|TuningProgress|AdaptationStageFailed' 'TrainCandidate' &
pids+=($!)
service evaluation-gate 'CandidateEvaluated|AdaptationStageFailed' 'EvaluateCandidate' &
pids+=($!)
service deployment 'ModelDeployed|ModelRolledBack|ModelVersionRegistered|ModelCatalog|AdaptationStageFailed' 'DeployCandidate|RollbackModel|RegisterModel|ListModels' &
pids+=($!)
service inference 'ObservationsIngested|LabelsObserved' 'ModelDeployed|ModelRolledBack|ModelVersionRegistered|DriftWindowEvaluated' &
pids+=($!)

# Each rabbitmqctl call starts an Erlang VM (about a second): the users are set up side by side.
for pid in "${pids[@]}"; do wait "$pid"; done

# Operators write commands and queries only; which command a user may give is the role check in the
# services (Roles:Operators, Roles:Approvers), against the user_id the broker validated. The answers
# come back to their own temporary queue (*_bus_*). `ctl runs watch` binds a temporary queue of its own
# to the run events below: queue.bind needs write on the queue and read on the exchange, so operators
# read those exchanges but may not configure (declare, delete) them: the services declare them. The
# command exchanges likewise: the consuming services declare them, and pipelinectl publishes to them
# without declaring (Pipeline.Cli's CommandPublisher), so operators configure their own *_bus_* names only.
commands='ApproveCandidate|RejectCandidate|RollbackModel|PauseAdaptation|ResumeAdaptation|StartAdaptation|RegisterModel|ListModels|ListRuns|GetRun'
watched='AdaptationRunStarted|SensitivityScored|TuningProgress|CandidateTrained|CandidateEvaluated|ApprovalRequested|CandidateApproved|CandidateRejected|ModelDeployed|AdaptationRunFailed|AdaptationRunFinished'
for user in "$@"; do
  grep -qx "$user" <<<"$existing" || continue
  ctl set_user_tags "$user" >/dev/null
  ctl set_permissions -p "$vhost" "$user" "^(${bus})\$" "^(${C}(${commands})|${bus})\$" "^(${C}(${watched})|${bus})\$" >/dev/null
done
