package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/gin-gonic/gin"
)

func jsonBody(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// list is the list envelope of docs/API.md.
type list[T any] struct {
	Object     string `json:"object"`
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newList[T any](data []T, more bool, cursor func(T) string) list[T] {
	if data == nil {
		data = []T{}
	}
	l := list[T]{Object: "list", Data: data, HasMore: more}
	if more && len(data) > 0 {
		l.NextCursor = cursor(data[len(data)-1])
	}
	return l
}

// pageParams reads ?limit= (1-100, default 20) and ?cursor=.
func pageParams(c *gin.Context) (int, string, error) {
	limit := 20
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, "", newError("parameter_invalid", "limit", "limit must be a whole number from 1 to 100.")
		}
		limit = n
	}
	return limit, c.Query("cursor"), nil
}
