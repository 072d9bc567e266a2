package deployment

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"reflect"
	"slices"
	"strconv"

	"github.com/kubesim/kubesim/model/api"
)

// hashAlphabet is the alphabet upstream uses for generated name suffixes and for
// encoding the pod-template-hash (k8s.io/apimachinery/pkg/util/rand: no vowels, no
// easily confused characters).
const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// ComputeHash returns the pod-template-hash of a template: the FNV-32a hash of a
// canonical encoding of the template, written in decimal and then mapped character by
// character onto hashAlphabet, as upstream's ComputeHash + rand.SafeEncodeString do
// (reference §3.1; pkg/controller/controller_utils.go ComputeHash). The encoding is
// kubesim's own (upstream hashes a spew dump of the Go struct), so the values differ
// from a real cluster's, but they have the same shape ("5d59d67564") and the same
// property: equal templates give equal hashes whatever the map iteration order.
func ComputeHash(t *api.PodTemplateSpec) string {
	h := fnv.New32a()
	_, _ = h.Write(encodeTemplate(t, false))
	dec := strconv.FormatUint(uint64(h.Sum32()), 10)
	out := make([]byte, len(dec))
	for i := 0; i < len(dec); i++ {
		out[i] = hashAlphabet[int(dec[i])%len(hashAlphabet)]
	}
	return string(out)
}

// equalIgnoreHash reports whether two templates are equal once the
// pod-template-hash label is ignored (util/deployment_util.go EqualIgnoreHash).
func equalIgnoreHash(a, b *api.PodTemplateSpec) bool {
	// Templates that are deeply equal (the common case: a ReplicaSet made from the
	// current template) encode alike, so they are equal without encoding either;
	// the encodings decide the rest (nil and empty maps and slices are equal there,
	// not for reflect.DeepEqual).
	if labelsEqualIgnoreHash(a.Labels, b.Labels) && reflect.DeepEqual(a.Annotations, b.Annotations) && reflect.DeepEqual(&a.Spec, &b.Spec) {
		return true
	}
	return string(encodeTemplate(a, true)) == string(encodeTemplate(b, true))
}

// labelsEqualIgnoreHash reports whether two label maps hold the same labels once
// the pod-template-hash label is ignored.
func labelsEqualIgnoreHash(a, b map[string]string) bool {
	n := 0
	for k, v := range a {
		if k == api.LabelPodTemplateHash {
			continue
		}
		if w, ok := b[k]; !ok || w != v {
			return false
		}
		n++
	}
	m := len(b)
	if _, ok := b[api.LabelPodTemplateHash]; ok {
		m--
	}
	return n == m
}

// encodeTemplate returns the canonical encoding of t, optionally without the
// pod-template-hash label. Nil and empty maps and slices encode alike.
func encodeTemplate(t *api.PodTemplateSpec, skipHashLabel bool) []byte {
	e := encoder{buf: make([]byte, 0, 512)}
	if skipHashLabel {
		if _, ok := t.Labels[api.LabelPodTemplateHash]; ok {
			cp := *t
			cp.Labels = make(map[string]string, len(t.Labels))
			for k, v := range t.Labels {
				if k != api.LabelPodTemplateHash {
					cp.Labels[k] = v
				}
			}
			t = &cp
		}
	}
	e.value(reflect.ValueOf(t).Elem())
	return e.buf
}

// encoder writes a canonical, self-delimiting byte encoding of any value built from
// structs, maps, slices, pointers and scalars. It walks by reflection so fields added
// to the API types later are covered without touching this code; map keys are
// sorted by their own encoding; pointers are followed (never their addresses).
type encoder struct{ buf []byte }

func (e *encoder) uvarint(n uint64) { e.buf = binary.AppendUvarint(e.buf, n) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.buf = append(e.buf, 1)
		} else {
			e.buf = append(e.buf, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = binary.AppendVarint(e.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uvarint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v.Float()))
	case reflect.String:
		e.str(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, 0)
			return
		}
		e.buf = append(e.buf, 1)
		if v.Kind() == reflect.Interface {
			e.str(v.Elem().Type().String())
		}
		e.value(v.Elem())
	case reflect.Slice, reflect.Array:
		e.uvarint(uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			e.value(v.Index(i))
		}
	case reflect.Map:
		type kv struct{ k, v []byte }
		entries := make([]kv, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			ke := encoder{}
			ke.value(it.Key())
			ve := encoder{}
			ve.value(it.Value())
			entries = append(entries, kv{ke.buf, ve.buf})
		}
		slices.SortFunc(entries, func(a, b kv) int { return compareBytes(a.k, b.k) })
		e.uvarint(uint64(len(entries)))
		for _, en := range entries {
			e.buf = append(e.buf, en.k...)
			e.buf = append(e.buf, en.v...)
		}
	case reflect.Struct:
		t := v.Type()
		e.uvarint(uint64(v.NumField()))
		for i := 0; i < v.NumField(); i++ {
			e.str(t.Field(i).Name)
			e.value(v.Field(i))
		}
	default:
		// Channels and functions never appear in API objects.
		e.str(v.Kind().String())
	}
}

func compareBytes(a, b []byte) int {
	if string(a) < string(b) {
		return -1
	}
	if string(a) > string(b) {
		return 1
	}
	return 0
}
