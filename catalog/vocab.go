package catalog

import "opendata/i18n"

// ShareType is how an entry is shared between departments (A-13: 无条件共享,
// 有条件共享, 不予共享). The value is the stable code stored and sent over
// the API; Label gives its name in the user's language.
type ShareType string

const (
	ShareUnconditional ShareType = "unconditional"
	ShareConditional   ShareType = "conditional"
	ShareNone          ShareType = "none"
)

// OpenType is how an entry is opened to the public (A-19: 无条件开放,
// 依申请开放, 不予开放).
type OpenType string

const (
	OpenUnconditional OpenType = "unconditional"
	OpenOnApplication OpenType = "on_application"
	OpenNone          OpenType = "none"
)

// Treatment is what the open variant does with a column: kept as it is,
// masked, or dropped.
type Treatment string

const (
	TreatKept    Treatment = "kept"
	TreatMasked  Treatment = "masked"
	TreatDropped Treatment = "dropped"
)

var (
	ShareTypes = []ShareType{ShareUnconditional, ShareConditional, ShareNone}
	OpenTypes  = []OpenType{OpenUnconditional, OpenOnApplication, OpenNone}
	Treatments = []Treatment{TreatKept, TreatMasked, TreatDropped}
)

// Label is the share type's name in lang, from the message catalog.
func (t ShareType) Label(lang string) string { return i18n.T(lang, "share_type."+string(t), nil) }

// Label is the open type's name in lang, from the message catalog.
func (t OpenType) Label(lang string) string { return i18n.T(lang, "open_type."+string(t), nil) }

// Label is the treatment's name in lang, from the message catalog.
func (t Treatment) Label(lang string) string { return i18n.T(lang, "open."+string(t), nil) }

// Public says whether the type opens the data to everyone without asking.
func (t OpenType) Public() bool { return t == OpenUnconditional }

// Shared says whether departments may share the data at all.
func (t ShareType) Shared() bool { return t != ShareNone }

func valid[T ~string](v T, set []T) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// ColumnType is the type of a data item and of the column the ingest
// writes for it: one vocabulary for the catalog, the ingest and the records
// engine.
type ColumnType string

const (
	ColString    ColumnType = "string"
	ColInt       ColumnType = "int"
	ColDecimal   ColumnType = "decimal"
	ColBool      ColumnType = "bool"
	ColDate      ColumnType = "date"
	ColTimestamp ColumnType = "timestamp"
)

// ColumnTypes are the column types in the order forms offer them.
var ColumnTypes = []ColumnType{ColString, ColInt, ColDecimal, ColBool, ColDate, ColTimestamp}

// Label is the column type's name in lang, from the message catalog.
func (t ColumnType) Label(lang string) string { return i18n.T(lang, "type."+string(t), nil) }

// Numeric says whether values of the type are numbers.
func (t ColumnType) Numeric() bool { return t == ColInt || t == ColDecimal }
