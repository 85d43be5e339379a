// kstatus-check prints kstatus' verdict (the one Flux waits on) for each object of a
// `kubectl get -o json` list read from standard input: one line per object,
// "<namespace>/<name> <status> <message>".
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	// Integers as int64, as the unstructured accessors expect (encoding/json would give float64).
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading stdin:", err)
		os.Exit(2)
	}
	var list struct {
		Items []map[string]interface{} `json:"items"`
	}
	if err := json.Unmarshal(input, &list); err != nil {
		fmt.Fprintln(os.Stderr, "not a JSON list of objects:", err)
		os.Exit(2)
	}
	for _, item := range list.Items {
		object := &unstructured.Unstructured{Object: item}
		result, err := status.Compute(object)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s/%s: %v\n", object.GetNamespace(), object.GetName(), err)
			os.Exit(1)
		}
		fmt.Printf("%s/%s %s %s\n", object.GetNamespace(), object.GetName(), result.Status, result.Message)
	}
}
