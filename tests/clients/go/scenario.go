// Drives `cairn serve` with the AWS SDK for Go v2 (Debian's golang-github-aws-aws-sdk-go-v2-dev,
// built in GOPATH mode: the Go module proxy is not reachable from the project's machines).
// Usage: CAIRN_ENDPOINT=http://127.0.0.1:PORT go run scenario.go
// Run by tests/clients/test_go_sdk.py; exits non-zero on the first mismatch.
//
// The SDK has no client option against the modelled `sync-` host prefix; two things work and both
// are checked: a middleware that sets smithy-go's DisableEndpointHostPrefix on the context, and an
// endpoint resolver answering HostnameImmutable. Without either, StartSyncExecution misses the host.
// This SDK version (1.17.1, early 2023) predates TestState, so that step is not in this leg.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const role = "arn:aws:iam::123456789012:role/cairn-test"

var ctx = context.Background()

// disableHostPrefix is the documented setting: an APIOptions middleware that tells the
// endpoint-prefix step to leave the host alone.
func disableHostPrefix(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CairnDisableHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
			middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}

func client(endpoint string, withMiddleware, immutableHost bool) *sfn.Client {
	options := sfn.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
		EndpointResolver: sfn.EndpointResolverFromURL(endpoint, func(e *aws.Endpoint) {
			e.HostnameImmutable = immutableHost
		}),
	}
	if withMiddleware {
		options.APIOptions = append(options.APIOptions, disableHostPrefix)
	}
	return sfn.New(options)
}

func check(condition bool, format string, args ...interface{}) {
	if !condition {
		fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
		os.Exit(1)
	}
}

func must(err error, what string) {
	check(err == nil, "%s: %v", what, err)
}

func step(name string, body func()) {
	body()
	fmt.Println("ok  ", name)
}

func main() {
	endpoint := os.Getenv("CAIRN_ENDPOINT")
	if endpoint == "" {
		fmt.Fprintln(os.Stderr, "scenario.go: set CAIRN_ENDPOINT to the cairn serve URL")
		os.Exit(2)
	}
	api := client(endpoint, true, false)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	tags := []types.Tag{{Key: aws.String("client"), Value: aws.String("go-v2")}, {Key: aws.String("team"), Value: aws.String("cairn")}}
	pass := `{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": "go"}, "End": true}}}`
	var standard, express, execution string

	step("CreateStateMachine STANDARD and EXPRESS with tags", func() {
		created, err := api.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String("go-std-" + suffix), Definition: aws.String(pass), RoleArn: aws.String(role),
			Type: types.StateMachineTypeStandard, Tags: tags,
		})
		must(err, "CreateStateMachine STANDARD")
		standard = *created.StateMachineArn
		check(time.Since(*created.CreationDate) < 5*time.Minute, "creationDate %v is not now", created.CreationDate)
		created, err = api.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: aws.String("go-exp-" + suffix), Definition: aws.String(pass), RoleArn: aws.String(role),
			Type: types.StateMachineTypeExpress, Tags: tags,
		})
		must(err, "CreateStateMachine EXPRESS")
		express = *created.StateMachineArn
	})

	step("StartExecution and DescribeExecution until SUCCEEDED", func() {
		started, err := api.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(standard), Input: aws.String(`{"n": 3}`)})
		must(err, "StartExecution")
		execution = *started.ExecutionArn
		deadline := time.Now().Add(30 * time.Second)
		for {
			described, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execution)})
			must(err, "DescribeExecution")
			if described.Status != types.ExecutionStatusRunning {
				check(described.Status == types.ExecutionStatusSucceeded, "status %s", described.Status)
				var output map[string]interface{}
				must(json.Unmarshal([]byte(*described.Output), &output), "output JSON")
				check(reflect.DeepEqual(output, map[string]interface{}{"n": 3.0, "tag": "go"}), "output %v", output)
				check(!described.StopDate.Before(*described.StartDate), "stopDate before startDate")
				break
			}
			check(time.Now().Before(deadline), "%s still RUNNING after 30 s", execution)
			time.Sleep(50 * time.Millisecond)
		}
	})

	step("GetExecutionHistory, maxResults 2, paging through nextToken", func() {
		var kinds []string
		pages := 0
		var token *string
		for {
			page, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(execution), MaxResults: 2, NextToken: token})
			must(err, "GetExecutionHistory")
			check(len(page.Events) <= 2, "a page of %d events", len(page.Events))
			for _, event := range page.Events {
				kinds = append(kinds, string(event.Type))
			}
			pages++
			if token = page.NextToken; token == nil {
				break
			}
			check(pages < 10, "nextToken never ran out")
		}
		want := []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
		check(reflect.DeepEqual(kinds, want) && pages == 2, "history %v in %d pages", kinds, pages)
	})

	step("StartSyncExecution on the EXPRESS machine (DisableEndpointHostPrefix middleware)", func() {
		result, err := api.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(express), Input: aws.String(`{"n": 7}`)})
		must(err, "StartSyncExecution")
		check(result.Status == types.SyncExecutionStatusSucceeded, "status %s", result.Status)
		check(strings.Contains(*result.ExecutionArn, ":express:"), "arn %s", *result.ExecutionArn)
	})

	step("StartSyncExecution through a HostnameImmutable endpoint, no middleware", func() {
		result, err := client(endpoint, false, true).StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(express), Input: aws.String(`{"n": 1}`)})
		must(err, "StartSyncExecution with HostnameImmutable")
		check(result.Status == types.SyncExecutionStatusSucceeded, "status %s", result.Status)
	})

	step("without either setting StartSyncExecution goes to the sync- host and fails", func() {
		_, err := client(endpoint, false, false).StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(express)})
		check(err != nil && strings.Contains(err.Error(), "sync-"), "expected a failure naming the sync- host, got %v", err)
	})

	step("DescribeExecution of a missing ARN: typed ExecutionDoesNotExist", func() {
		_, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execution + "-nope")})
		var missing *types.ExecutionDoesNotExist
		check(errors.As(err, &missing), "not an ExecutionDoesNotExist: %T %v", err, err)
		check(strings.Contains(missing.ErrorMessage(), "Execution Does Not Exist"), "message %q", missing.ErrorMessage())
	})

	step("ListTagsForResource", func() {
		for _, arn := range []string{standard, express} {
			listed, err := api.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			must(err, "ListTagsForResource")
			var pairs []string
			for _, tag := range listed.Tags {
				pairs = append(pairs, *tag.Key+"="+*tag.Value)
			}
			sort.Strings(pairs)
			check(reflect.DeepEqual(pairs, []string{"client=go-v2", "team=cairn"}), "tags %v", pairs)
		}
	})

	fmt.Println("Go SDK v2 scenario passed")
}
