package httpapi

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// openapiYAML is the API description, kept by hand beside the routes; a test
// fails when it is invalid or when a route is missing from it.
//
//go:embed openapi.yaml
var openapiYAML []byte

var (
	openapiOnce sync.Once
	openapiJSON []byte
	openapiErr  error
)

// OpenAPI parses and validates the embedded document and returns it as JSON.
func OpenAPI() ([]byte, *openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiYAML)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("openapi: validate: %w", err)
	}
	b, err := doc.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("openapi: marshal: %w", err)
	}
	return b, doc, nil
}

func (s *Server) openapi(c *gin.Context) {
	openapiOnce.Do(func() { openapiJSON, _, openapiErr = OpenAPI() })
	if openapiErr != nil {
		s.fail(c, openapiErr)
		return
	}
	c.Data(200, "application/json; charset=utf-8", openapiJSON)
}
