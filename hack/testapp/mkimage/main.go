// Writes a one-layer container image as a tarball that `ctr images import` reads: one binary at /<name>,
// its entrypoint, and environment variables. The test bed has no registry and no Docker; this is how its
// application and pause images are made (github.com/google/go-containerregistry does the format).
//
//	mkimage -binary app -ref hotfix.local/app:1.0 -env APP_ERROR_RATIO=0.2 -o app-1.0.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type envFlags []string

func (e *envFlags) String() string     { return strings.Join(*e, ",") }
func (e *envFlags) Set(v string) error { *e = append(*e, v); return nil }

func layerWith(binary string) (v1.Layer, error) {
	content, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buffer bytes.Buffer
	writer := tar.NewWriter(&buffer)
	header := &tar.Header{Name: filepath.Base(binary), Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}
	if err := writer.WriteHeader(header); err != nil {
		return nil, err
	}
	if _, err := writer.Write(content); err != nil {
		return nil, err
	}
	if err := writer.Close(); err != nil {
		return nil, err
	}
	data := buffer.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func run() error {
	binary := flag.String("binary", "", "the executable to put at /<its name>")
	reference := flag.String("ref", "", "the image name and tag, e.g. hotfix.local/app:1.0")
	output := flag.String("o", "", "the tarball to write")
	var env envFlags
	flag.Var(&env, "env", "NAME=value baked into the image (repeatable)")
	flag.Parse()
	if *binary == "" || *reference == "" || *output == "" {
		return fmt.Errorf("-binary, -ref and -o are required")
	}
	tag, err := name.NewTag(*reference)
	if err != nil {
		return err
	}
	layer, err := layerWith(*binary)
	if err != nil {
		return err
	}
	image, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	config, err := image.ConfigFile()
	if err != nil {
		return err
	}
	config = config.DeepCopy()
	config.OS, config.Architecture = "linux", runtime.GOARCH
	config.Config.Entrypoint = []string{"/" + filepath.Base(*binary)}
	config.Config.Env = env
	image, err = mutate.ConfigFile(image, config)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(*output, tag, image)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}
