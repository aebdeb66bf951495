package vietqr

import "testing"

func TestTransliterate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Lệ phí hộ tịch", "Le phi ho tich"},
		{"Đăng ký khai sinh", "Dang ky khai sinh"},
		{"đ", "d"},
		{"ĐƯỜNG Ở ĂN ÂU", "DUONG O AN AU"},
		{"ủng hộ lũ lụt", "ung ho lu lut"},
		{"Viện phí khám bệnh BHYT", "Vien phi kham benh BHYT"},
		// Every vowel with every tone, lower and upper case.
		{"aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ",
			"aaaaaaaaaaaaaaaaaaeeeeeeeeeeeeiiiiiioooooooooooooooooouuuuuuuuuuuuyyyyyy"},
		{"AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬEÈÉẺẼẸÊỀẾỂỄỆIÌÍỈĨỊOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢUÙÚỦŨỤƯỪỨỬỮỰYỲÝỶỸỴ",
			"AAAAAAAAAAAAAAAAAAEEEEEEEEEEEEIIIIIIOOOOOOOOOOOOOOOOOOUUUUUUUUUUUUYYYYYY"},
		// Decomposed input (a base letter and combining marks) gives the same.
		{"Le\u0323 phi\u0301", "Le phi"},
		{"Ðiện", "Dien"}, // Ð (U+00D0) stands in for Đ in some legacy text
		{"Phí\u00a0100.000₫ 👍", "Phi 100.000 "},
		{"tab\tnew\nline", "tab new line"},
		{"ASCII stays: A-Z 0-9 ~!", "ASCII stays: A-Z 0-9 ~!"},
		{"\xff\xfebad utf-8", "bad utf-8"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := Transliterate(tc.in); got != tc.want {
				t.Errorf("Transliterate(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
