package api

import (
	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// answerLanguage picks the language of the display forms in an answer
// (locale.FromRequest: ?lang=, else Accept-Language, else Kazakh) and says
// so in Content-Language. EINVALID for an unknown ?lang=. Handlers call it
// before anything happens, so that a bad lang spends and records nothing.
func answerLanguage(c echo.Context) (locale.Lang, error) {
	lang, err := locale.FromRequest(c.Request())
	if err != nil {
		return "", err
	}
	h := c.Response().Header()
	h.Set("Content-Language", string(lang))
	h.Add("Vary", "Accept-Language")
	return lang, nil
}

// displayForm gives a document its title and field labels in lang. The
// signed content keeps the title it was signed with; this is only how the
// document is shown.
func displayForm(lang locale.Lang, d wallet.Document) wallet.Document {
	d.Title = locale.Title(lang, d.Type)
	d.FieldLabels = locale.Labels(lang, d.Type, d.Fields)
	return d
}

func displayForms(lang locale.Lang, docs []wallet.Document) []wallet.Document {
	out := make([]wallet.Document, len(docs))
	for i, d := range docs {
		out[i] = displayForm(lang, d)
	}
	return out
}
