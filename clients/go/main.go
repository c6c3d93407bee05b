// Command converse is a Switchboard channel service in Go: it opens one RouterService.Converse
// stream, sends the customer's messages as turns one after another, and renders every event
// that comes back.
//
//	go run . [-router 127.0.0.1:50051] [-session ID] [-customer-id C-1001] [-tls]
//	         ["first message" "second message" ...]
//
// Exit status: 0 when every turn completed, 1 when a turn ended with an error event, 2 when
// the call itself failed.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	switchboardv1 "example.com/switchboard/clients/go/gen/switchboard/v1"
)

var defaultMessages = []string{"Is flight UA 123 on time?", "Thanks!"}

func main() {
	os.Exit(run())
}

func run() int {
	router := flag.String("router", envOr("SWITCHBOARD_ROUTER", "127.0.0.1:50051"), "the router's (or the gateway's) host:port")
	session := flag.String("session", "go-"+randomHex(4), "conversation id")
	customerID := flag.String("customer-id", "", "the customer's enterprise reference")
	useTLS := flag.Bool("tls", false, "use TLS with the system's roots")
	deadline := flag.Duration("deadline", 60*time.Second, "the most the whole conversation may take")
	flag.Parse()
	messages := flag.Args()
	if len(messages) == 0 {
		messages = defaultMessages
	}

	creds := insecure.NewCredentials()
	if *useTLS {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(*router, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 2
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	r := &renderer{out: os.Stdout}
	r.line(fmt.Sprintf("session %s on %s", *session, *router))
	failed, err := converse(ctx, switchboardv1.NewRouterServiceClient(conn), *session, *customerID, messages, r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %s: %s\n", status.Code(err), status.Convert(err).Message())
		return 2
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// converse sends each message as a turn on one Converse stream, the next once the previous
// turn has ended, then half-closes and reads until the router ends the stream. It returns the
// number of turns that ended with an error event.
func converse(ctx context.Context, client switchboardv1.RouterServiceClient, session, customerID string, messages []string, r *renderer) (int, error) {
	stream, err := client.Converse(ctx)
	if err != nil {
		return 0, err
	}
	turnEnded := make(chan bool) // true when the turn ended with an error event
	received := make(chan error, 1)
	go func() {
		for {
			response, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				received <- nil
				return
			}
			if err != nil {
				received <- err
				return
			}
			event := response.GetEvent()
			r.show(event)
			switch event.GetEvent().(type) {
			case *switchboardv1.TurnEvent_TurnCompleted:
				turnEnded <- false
			case *switchboardv1.TurnEvent_Error:
				turnEnded <- true
			}
		}
	}()

	failed := 0
	for i, text := range messages {
		turnID := fmt.Sprintf("turn-%d", i+1)
		r.line(fmt.Sprintf("you [%s]: %s", turnID, text))
		err := stream.Send(&switchboardv1.ConverseRequest{
			Action: &switchboardv1.ConverseRequest_Turn{Turn: &switchboardv1.ConverseTurn{
				TurnId:     turnID,
				SessionId:  session,
				Text:       text,
				Channel:    "go-example",
				CustomerId: customerID,
			}},
		})
		if err != nil {
			// The stream broke; Recv reports why.
			return failed, <-received
		}
		select {
		case turnFailed := <-turnEnded:
			if turnFailed {
				failed++
			}
		case err := <-received:
			if err == nil {
				err = fmt.Errorf("the router ended the stream before %s ended", turnID)
			}
			return failed, err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return failed, err
	}
	return failed, <-received
}

// renderer prints events as they arrive; a turn's reply streams onto one line.
type renderer struct {
	out     io.Writer
	inReply bool
}

func (r *renderer) line(text string) {
	if r.inReply {
		fmt.Fprintln(r.out)
		r.inReply = false
	}
	fmt.Fprintln(r.out, text)
}

func (r *renderer) show(event *switchboardv1.TurnEvent) {
	tag := "[" + event.GetTurnId() + "]"
	switch e := event.GetEvent().(type) {
	case *switchboardv1.TurnEvent_TurnStarted:
		r.line(fmt.Sprintf("%s · turn started · session %s · trace %s", tag, e.TurnStarted.GetSessionId(), event.GetTraceId()))
	case *switchboardv1.TurnEvent_Intent:
		r.line(fmt.Sprintf("%s · intent   %s (%.2f)", tag, e.Intent.GetName(), e.Intent.GetConfidence()))
	case *switchboardv1.TurnEvent_Policy:
		p := e.Policy
		reason := ""
		if p.GetReason() != "" {
			reason = ": " + p.GetReason()
		}
		r.line(fmt.Sprintf("%s · policy   %s %s (%s)%s", tag, enumName(p.GetStage().String(), "POLICY_STAGE_"), enumName(p.GetAction().String(), "POLICY_ACTION_"), p.GetRuleId(), reason))
	case *switchboardv1.TurnEvent_Plan:
		plan := e.Plan.GetPlan()
		steps := make([]string, 0, len(plan.GetSteps()))
		for _, s := range plan.GetSteps() {
			steps = append(steps, fmt.Sprintf("%s=%s(%s)", s.GetId(), s.GetTool(), arguments(s.GetArguments().AsMap())))
		}
		r.line(strings.TrimRight(fmt.Sprintf("%s · plan     %s [%s] %s", tag, plan.GetFlow(), plan.GetTier(), strings.Join(steps, "; ")), " "))
	case *switchboardv1.TurnEvent_StepStarted:
		s := e.StepStarted
		r.line(fmt.Sprintf("%s   → %s %s(%s)", tag, s.GetStepId(), s.GetTool(), arguments(s.GetArguments().AsMap())))
	case *switchboardv1.TurnEvent_StepFinished:
		res := e.StepFinished.GetResult()
		httpStatus, failure := "", ""
		if res.GetHttpStatus() != 0 {
			httpStatus = fmt.Sprintf(" HTTP %d", res.GetHttpStatus())
		}
		if res.GetError() != "" {
			failure = ": " + res.GetError()
		}
		r.line(fmt.Sprintf("%s   ← %s %s %s%s in %d ms%s", tag, res.GetStepId(), res.GetTool(), enumName(res.GetOutcome().String(), "STEP_OUTCOME_"), httpStatus, res.GetLatency().AsDuration().Milliseconds(), failure))
	case *switchboardv1.TurnEvent_TextDelta:
		if !r.inReply {
			fmt.Fprintf(r.out, "%s assistant: ", tag)
			r.inReply = true
		}
		fmt.Fprint(r.out, e.TextDelta.GetText())
	case *switchboardv1.TurnEvent_RichMedia:
		m := e.RichMedia
		r.line(strings.TrimRight(fmt.Sprintf("%s · [%s] %s %s", tag, enumName(m.GetKind().String(), "MEDIA_KIND_"), m.GetTitle(), m.GetUri()), " "))
	case *switchboardv1.TurnEvent_Fallback:
		f := e.Fallback
		r.line(fmt.Sprintf("%s · fallback %s → %s: %s", tag, enumName(f.GetReason().String(), "FALLBACK_REASON_"), enumName(f.GetAction().String(), "FALLBACK_ACTION_"), f.GetDetail()))
	case *switchboardv1.TurnEvent_Handoff:
		r.line(fmt.Sprintf("%s · handoff  → %s: %s", tag, e.Handoff.GetQueue(), e.Handoff.GetReason()))
	case *switchboardv1.TurnEvent_TurnCompleted:
		c := e.TurnCompleted
		tokens := c.GetUsage().GetInputTokens() + c.GetUsage().GetOutputTokens()
		r.line(fmt.Sprintf("%s · completed in %d ms · %d tokens", tag, c.GetLatency().AsDuration().Milliseconds(), tokens))
	case *switchboardv1.TurnEvent_Error:
		r.line(fmt.Sprintf("%s · error %s: %s", tag, e.Error.GetCode(), e.Error.GetMessage()))
	default:
		r.line(fmt.Sprintf("%s · (an event this client does not know)", tag))
	}
}

func arguments(values map[string]any) string {
	parts := make([]string, 0, len(values))
	for key, value := range values {
		parts = append(parts, fmt.Sprintf("%s=%v", key, value))
	}
	return strings.Join(parts, ", ")
}

func enumName(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

func envOr(key, fallback string) string {
	if value := os.Getenv(key); value != "" {
		return value
	}
	return fallback
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
