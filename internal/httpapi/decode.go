package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"

	"github.com/inbound-gateway/inbound/internal/limits"
	"github.com/inbound-gateway/inbound/internal/money"
)

// decodeJSON reads body into dst strictly: valid JSON, one object, no
// unknown fields at any depth (param names the field), money objects checked
// with their path ("amount.value"), then the validator tags of dst.
func (s *Server) decodeJSON(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		return newError("invalid_json", "", "")
	}
	if body[0] != '{' {
		return newError("invalid_json", "", "The request body must be a JSON object.")
	}
	if err := checkShape(body, reflect.TypeOf(dst).Elem(), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return newError("parameter_invalid", te.Field, fmt.Sprintf("%s must be of type %s.", orRoot(te.Field), jsonKind(te.Type)))
		}
		return newError("invalid_json", "", "")
	}
	if err := checkText(reflect.ValueOf(dst), ""); err != nil {
		return err
	}
	if err := s.validate.Struct(dst); err != nil {
		return validationError(err)
	}
	return nil
}

// checkText refuses, in every string of a decoded request at any depth,
// control characters and invisible formatting characters (Unicode Cc and
// Cf: the bidi embeddings, overrides and isolates U+202A-202E and
// U+2066-2069, the Arabic letter mark U+061C, zero-width U+200B-200F, the
// BOM U+FEFF, soft hyphen...) and the line and paragraph separators. They
// let a merchant, partner or holder name, a description or a reason display
// as something else than what is stored (a name spoofing another in the
// admin tools, an order number that looks like another), and no field of
// this API needs them. Checking every string here, rather than tagging
// fields one by one, means a new free-text field cannot be forgotten.
func checkText(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkText(v.Elem(), path)
	case reflect.String:
		for _, r := range v.String() {
			if invisibleRune(r) {
				return newError("parameter_invalid", path,
					fmt.Sprintf("%s contains a control or invisible formatting character (U+%04X).", orRoot(path), r))
			}
		}
	case reflect.Struct:
		if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
			return nil // money and other parsed values check their own text
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, ok := jsonName(f)
			if !ok {
				continue
			}
			p := join(path, name)
			if f.Anonymous {
				p = path
			}
			if err := checkText(v.Field(i), p); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := checkText(v.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			if err := checkText(iter.Key(), join(path, k)); err != nil {
				return err
			}
			if err := checkText(iter.Value(), join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// invisibleRune reports the characters checkText refuses.
func invisibleRune(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r >= 0x200B && r <= 0x200F,
		r == 0xFEFF, r == 0x061C, r == 0x2028, r == 0x2029:
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

func orRoot(p string) string {
	if p == "" {
		return "The body"
	}
	return p
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.Kind().String()
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkShape walks raw along t, refusing unknown object keys and running
// custom unmarshalers (money) so their errors carry the field path.
func checkShape(raw json.RawMessage, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		v := reflect.New(t)
		if err := v.Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			var pe *money.ParseError
			if errors.As(err, &pe) {
				param := join(path, pe.Field)
				if pe.Field == "" {
					param = path
				}
				e, _ := toAPIError(err)
				e.Param = param
				e.Message = moneyMessage(param, pe)
				return e
			}
			return newError("parameter_invalid", path, "")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return newError("parameter_invalid", path, fmt.Sprintf("%s must be an object.", orRoot(path)))
		}
		fields := jsonFields(t)
		for k, v := range obj {
			ft, ok := fields[k]
			if !ok {
				return newError("unknown_field", join(path, k), fmt.Sprintf("Unknown field %q.", join(path, k)))
			}
			if err := checkShape(v, ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return newError("parameter_invalid", path, fmt.Sprintf("%s must be an array.", orRoot(path)))
		}
		for i, v := range arr {
			if err := checkShape(v, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

func moneyMessage(param string, pe *money.ParseError) string {
	switch {
	case errors.Is(pe, money.ErrUnsupportedCurrency):
		return fmt.Sprintf("%s is not a supported currency.", param)
	case errors.Is(pe, money.ErrTooPrecise):
		return fmt.Sprintf("%s has more decimals than the currency allows.", param)
	case errors.Is(pe, money.ErrOverflow):
		return fmt.Sprintf("%s is out of range.", param)
	case pe.Field == "value":
		return fmt.Sprintf("%s must be a decimal string such as \"12.34\".", param)
	}
	return fmt.Sprintf("%s must be an object {\"value\": \"12.34\", \"currency\": \"CNY\"}.", param)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	if k == "" {
		return path
	}
	return path + "." + k
}

// jsonName is the JSON name encoding/json gives field f; false for a field
// it skips (json:"-").
func jsonName(f reflect.StructField) (string, bool) {
	tag, ok := f.Tag.Lookup("json")
	if !ok {
		return f.Name, true
	}
	n, _, _ := strings.Cut(tag, ",")
	if n == "-" {
		return "", false
	}
	if n == "" {
		return f.Name, true
	}
	return n, true
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, ok := jsonName(f)
		if !ok {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		out[name] = f.Type
	}
	return out
}

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == "-" {
			return ""
		}
		if n == "" {
			return f.Name
		}
		return n
	})
	for alias, limit := range limitTags {
		v.RegisterAlias(alias, "max="+strconv.Itoa(limit))
	}
	return v
}

// limitTags are the validator tags of the length limits (internal/limits):
// request structs write validate:"max_reason", never the number, so the
// handler, the domain and openapi.yaml (TestOpenAPILimits) share one
// definition.
var limitTags = map[string]int{
	"max_reason":              limits.Reason,
	"max_name":                limits.Name,
	"max_out_trade_no":        limits.OutTradeNo,
	"max_payment_description": limits.PaymentDescription,
	"max_webhook_description": limits.WebhookDescription,
	"max_url":                 limits.URL,
}

// validationError reports the first failed validator tag.
func validationError(err error) error {
	var ve validator.ValidationErrors
	if !errors.As(err, &ve) || len(ve) == 0 {
		return newError("parameter_invalid", "", "")
	}
	fe := ve[0]
	// Namespace is "Type.field.sub": drop the root type name.
	param := fe.Namespace()
	if _, rest, ok := strings.Cut(param, "."); ok {
		param = rest
	}
	switch fe.ActualTag() {
	case "required":
		return newError("parameter_missing", param, fmt.Sprintf("%s is required.", param))
	case "oneof":
		return newError("parameter_invalid", param, fmt.Sprintf("%s must be one of: %s.", param, strings.ReplaceAll(fe.Param(), " ", ", ")))
	case "max":
		return newError("parameter_invalid", param, fmt.Sprintf("%s is too long (at most %s).", param, fe.Param()))
	case "min":
		return newError("parameter_invalid", param, fmt.Sprintf("%s is too short (at least %s).", param, fe.Param()))
	}
	return newError("parameter_invalid", param, fmt.Sprintf("%s is invalid.", param))
}
