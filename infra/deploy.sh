#!/usr/bin/env bash
# `make deploy STAGE=prod [CLUSTER=name KUBECTL_ROLE_ARN=arn]`: Optio into the AWS account of the
# current credentials (aws sts get-caller-identity), in their region.
#  1. without CLUSTER the stack creates an EKS cluster; with it, the cluster's endpoint, CA, OIDC
#     issuer and (private endpoint) VPC come from `aws eks describe-cluster`;
#  2. the first deploy creates the ECR repositories; the runner and watcher images are built and
#     pushed when their tag (the git commit) is not in them yet;
#  3. `cdk deploy` of the stack optio-$STAGE (the app's only stack with -c stages=$STAGE), its pods
#     pulling the images by the digests the pushed tag has (repo@sha256:...), not by the tag.
set -euo pipefail

STAGE=${STAGE:-dev}
CLUSTER=${CLUSTER:-}
KUBECTL_ROLE_ARN=${KUBECTL_ROLE_ARN:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
CDK="$ROOT/infra/node_modules/.bin/cdk"
export CDK_DISABLE_CLI_TELEMETRY=true

for tool in aws docker; do
  command -v "$tool" >/dev/null || { echo "deploy needs the $tool CLI on PATH" >&2; exit 1; }
done
ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}
[ -n "$REGION" ] || { echo "set AWS_REGION (or a region in your AWS profile)" >&2; exit 1; }
export CDK_DEFAULT_ACCOUNT=$ACCOUNT CDK_DEFAULT_REGION=$REGION AWS_DEFAULT_REGION=$REGION
TAG=${IMAGE_TAG:-$(git -C "$ROOT" rev-parse --short=12 HEAD)$(git -C "$ROOT" diff --quiet HEAD -- chalicelib runner-image requirements.txt || echo "-dirty-$(date +%s)")}
echo "Deploying optio-$STAGE to account $ACCOUNT, $REGION, images tagged $TAG"

CONTEXT=(-c "stages=$STAGE" -c "imageTag=$TAG")
# You get kubectl on a cluster the stack creates: your role (an assumed role's ARN is its session's).
CALLER=$(aws sts get-caller-identity --query Arn --output text)
ADMIN=${ADMIN_PRINCIPAL_ARN:-$(sed -E 's#^arn:([^:]+):sts::([0-9]+):assumed-role/([^/]+)/.*#arn:\1:iam::\2:role/\3#' <<<"$CALLER")}
[ -n "$CLUSTER" ] || CONTEXT+=(-c "adminPrincipalArn=$ADMIN")
# More context, e.g. CDK_ARGS="-c nodeInstanceType=t3.xlarge -c nodeMaxSize=5" (see infra/app.py).
read -r -a EXTRA <<<"${CDK_ARGS:-}"
CONTEXT+=("${EXTRA[@]}")
if [ -n "$CLUSTER" ]; then
  [ -n "$KUBECTL_ROLE_ARN" ] || {
    echo "CLUSTER=$CLUSTER needs KUBECTL_ROLE_ARN: a role CloudFormation's kubectl handler assumes, with" >&2
    echo "system:masters (or an admin access entry) on the cluster" >&2; exit 1; }
  read -r ENDPOINT CA ISSUER VPC PUBLIC <<<"$(aws eks describe-cluster --name "$CLUSTER" --output text \
    --query 'cluster.[endpoint, certificateAuthority.data, identity.oidc.issuer, resourcesVpcConfig.vpcId, resourcesVpcConfig.endpointPublicAccess]')"
  CONTEXT+=(-c "clusterName=$CLUSTER" -c "clusterEndpoint=$ENDPOINT" -c "clusterCaData=$CA"
            -c "oidcIssuer=$ISSUER" -c "kubectlRoleArn=$KUBECTL_ROLE_ARN")
  if [ "$PUBLIC" != "True" ]; then
    # Private endpoint: the launcher (and CDK's kubectl handler) run in the cluster's subnets.
    SUBNETS=$(aws eks describe-cluster --name "$CLUSTER" --query 'cluster.resourcesVpcConfig.subnetIds' --output text | tr '\t' ,)
    SG=$(aws eks describe-cluster --name "$CLUSTER" --query 'cluster.resourcesVpcConfig.clusterSecurityGroupId' --output text)
    CONTEXT+=(-c "vpcId=$VPC" -c "subnetIds=$SUBNETS" -c "securityGroupIds=$SG")
  fi
fi

cdk() { (cd "$ROOT/infra" && "$CDK" "$@" "${CONTEXT[@]}" --require-approval never); }

repo_uri() { aws ecr describe-repositories --repository-names "$1" --query 'repositories[0].repositoryUri' --output text 2>/dev/null; }

# 2. The repositories come with the stack: on the very first deploy, create the stack first (the
#    watcher's pod waits for its image, which is pushed right after).
if ! repo_uri "optio-$STAGE-runner" >/dev/null; then
  cdk deploy --all  # the one stack of -c stages=$STAGE: optio-$STAGE
fi
REGISTRY="$ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY" >/dev/null
push_if_missing() {  # repository, dockerfile, context
  local uri; uri=$(repo_uri "$1")
  if aws ecr describe-images --repository-name "$1" --image-ids "imageTag=$TAG" >/dev/null 2>&1; then
    echo "$uri:$TAG is already pushed"
  else
    docker build --platform linux/amd64 -t "$uri:$TAG" -f "$2" "$3"
    docker push "$uri:$TAG"
  fi
}
push_if_missing "optio-$STAGE-runner" "$ROOT/runner-image/Dockerfile" "$ROOT/runner-image"
push_if_missing "optio-$STAGE-watcher" "$ROOT/infra/watcher.Dockerfile" "$ROOT"

# 3. Everything, the images pulled by digest: what was pushed under the tag, and nothing else.
digest() { aws ecr describe-images --repository-name "$1" --image-ids "imageTag=$TAG" \
  --query 'imageDetails[0].imageDigest' --output text; }
CONTEXT+=(-c "runnerImageDigest=$(digest "optio-$STAGE-runner")" -c "watcherImageDigest=$(digest "optio-$STAGE-watcher")")
cdk deploy --all --outputs-file "$ROOT/infra/cdk.out/outputs-$STAGE.json"
echo "Done. The API's URL and the name of the secret that holds the first API token:"
"$PY" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=1))" \
  "$ROOT/infra/cdk.out/outputs-$STAGE.json"
