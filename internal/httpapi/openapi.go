package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// openapiYAML is the one hand-kept source of both API descriptions, beside
// the routes. OpenAPIFor splits it into the partner and the admin document
// (each listener serves its own at /openapi.json) and adds what every
// response of the server carries anyway (Request-Id, Idempotent-Replayed,
// rate-limit headers), so the source cannot forget one. Tests fail when a
// document is invalid, when a route of a listener is missing from its
// document (or documented on the wrong one), or when the generated files
// under api/ are stale.
//
//go:embed openapi.yaml
var openapiYAML []byte

// The two APIs, by the name of their listener.
const (
	PartnerAPI = "partner"
	AdminAPI   = "admin"
)

// openapiServers is the servers entry of each document.
var openapiServers = map[string]string{
	PartnerAPI: "http://localhost:8080",
	AdminAPI:   "http://localhost:8081",
}

var openapiTitles = map[string]string{
	PartnerAPI: "Inbound partner API",
	AdminAPI:   "Inbound admin API",
}

// listenersKey is the source's path-level extension naming the listeners of
// an operational path served by only one of them (/metrics: admin).
const listenersKey = "x-inbound-listeners"

var openapiCache sync.Map // api name -> *openapiResult

type openapiResult struct {
	once sync.Once
	json []byte
	err  error
}

// listenersOf says which listeners serve a documented path: those its
// x-inbound-listeners names, else the API its prefix belongs to, else
// (operational endpoints) both.
func listenersOf(path string, named []string) []string {
	if len(named) > 0 {
		return named
	}
	switch {
	case strings.HasPrefix(path, "/admin/v1/"):
		return []string{AdminAPI}
	case strings.HasPrefix(path, "/v1/"):
		return []string{PartnerAPI}
	}
	return []string{PartnerAPI, AdminAPI}
}

// OpenAPIFor builds, validates and returns as indented JSON the document of
// one API (PartnerAPI or AdminAPI).
func OpenAPIFor(api string) ([]byte, *openapi3.T, error) {
	server, ok := openapiServers[api]
	if !ok {
		return nil, nil, fmt.Errorf("openapi: unknown api %q", api)
	}
	loader := openapi3.NewLoader()
	full, err := loader.LoadFromData(openapiYAML)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := full.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("openapi: validate source: %w", err)
	}
	raw, err := full.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("openapi: marshal: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("openapi: %w", err)
	}

	paths, _ := m["paths"].(map[string]any)
	for p, item := range paths {
		it, _ := item.(map[string]any)
		var named []string
		if l, ok := it[listenersKey].([]any); ok {
			for _, v := range l {
				s, _ := v.(string)
				named = append(named, s)
			}
		}
		delete(it, listenersKey)
		keep := false
		for _, l := range listenersOf(p, named) {
			keep = keep || l == api
		}
		if !keep {
			delete(paths, p)
			continue
		}
		for method, op := range it {
			if o, ok := op.(map[string]any); ok && isMethod(method) {
				addResponseHeaders(api, p, method, o)
			}
		}
	}
	m["servers"] = []any{map[string]any{"url": server, "description": openapiTitles[api]}}
	if info, ok := m["info"].(map[string]any); ok {
		info["title"] = openapiTitles[api]
	}
	pruneComponents(m)
	pruneTags(m)

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, nil, fmt.Errorf("openapi: %w", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(out.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("openapi: load %s: %w", api, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("openapi: validate %s: %w", api, err)
	}
	return out.Bytes(), doc, nil
}

func isMethod(s string) bool {
	switch strings.ToUpper(s) {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// addResponseHeaders documents the headers the middleware sets: Request-Id
// on every response; RateLimit-Limit and RateLimit-Remaining on every
// response of an authenticated API path once the caller is known (when a
// limit is configured); Idempotent-Replayed on the successes of operations
// that take an Idempotency-Key. Retry-After is in the 429 and 503
// responses of the source.
func addResponseHeaders(api, path, method string, op map[string]any) {
	idem := false
	if params, ok := op["parameters"].([]any); ok {
		for _, p := range params {
			pm, _ := p.(map[string]any)
			if ref, _ := pm["$ref"].(string); strings.HasPrefix(ref, "#/components/parameters/IdempotencyKey") {
				idem = true
			}
		}
	}
	limited := strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/admin/v1/")
	responses, _ := op["responses"].(map[string]any)
	for status, r := range responses {
		rm, _ := r.(map[string]any)
		if _, isRef := rm["$ref"]; isRef {
			continue // shared responses carry their headers in the source
		}
		headers, _ := rm["headers"].(map[string]any)
		if headers == nil {
			headers = map[string]any{}
		}
		headers["Request-Id"] = map[string]any{"$ref": "#/components/headers/Request-Id"}
		if limited {
			headers["RateLimit-Limit"] = map[string]any{"$ref": "#/components/headers/RateLimit-Limit"}
			headers["RateLimit-Remaining"] = map[string]any{"$ref": "#/components/headers/RateLimit-Remaining"}
		}
		if idem && strings.HasPrefix(status, "2") {
			headers["Idempotent-Replayed"] = map[string]any{"$ref": "#/components/headers/Idempotent-Replayed"}
		}
		rm["headers"] = headers
	}
}

// pruneComponents drops the components no operation of this document
// reaches (the other API's), following $refs transitively.
func pruneComponents(m map[string]any) {
	comps, _ := m["components"].(map[string]any)
	if comps == nil {
		return
	}
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/") && !used[ref] {
				used[ref] = true
				parts := strings.SplitN(strings.TrimPrefix(ref, "#/components/"), "/", 2)
				if len(parts) == 2 {
					if kind, ok := comps[parts[0]].(map[string]any); ok {
						walk(kind[parts[1]])
					}
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(m["paths"])
	// Security schemes are named by the security requirements, not by $ref.
	security := map[string]bool{}
	var walkSec func(v any)
	walkSec = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if reqs, ok := x["security"].([]any); ok {
				for _, r := range reqs {
					if rm, ok := r.(map[string]any); ok {
						for name := range rm {
							security[name] = true
						}
					}
				}
			}
			for _, e := range x {
				walkSec(e)
			}
		case []any:
			for _, e := range x {
				walkSec(e)
			}
		}
	}
	walkSec(m["paths"])
	for kind, v := range comps {
		km, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for name := range km {
			if kind == "securitySchemes" {
				if !security[name] {
					delete(km, name)
				}
				continue
			}
			if !used["#/components/"+kind+"/"+name] {
				delete(km, name)
			}
		}
		if len(km) == 0 {
			delete(comps, kind)
		}
	}
}

// pruneTags keeps the tags some operation of this document uses.
func pruneTags(m map[string]any) {
	used := map[string]bool{}
	paths, _ := m["paths"].(map[string]any)
	for _, item := range paths {
		it, _ := item.(map[string]any)
		for method, op := range it {
			o, ok := op.(map[string]any)
			if !ok || !isMethod(method) {
				continue
			}
			tags, _ := o["tags"].([]any)
			for _, t := range tags {
				s, _ := t.(string)
				used[s] = true
			}
		}
	}
	tags, _ := m["tags"].([]any)
	var kept []any
	for _, t := range tags {
		tm, _ := t.(map[string]any)
		if name, _ := tm["name"].(string); used[name] {
			kept = append(kept, t)
		}
	}
	m["tags"] = kept
}

// openapi serves the document of the listener that answers.
func (s *Server) openapi(api string) gin.HandlerFunc {
	return func(c *gin.Context) {
		v, _ := openapiCache.LoadOrStore(api, &openapiResult{})
		r := v.(*openapiResult)
		r.once.Do(func() { r.json, _, r.err = OpenAPIFor(api) })
		if r.err != nil {
			s.fail(c, r.err)
			return
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", r.json)
	}
}
