package cardqr

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     Card
	}{
		{"seven fields", "079203012345|025123456|Nguyễn Văn An|15031990|Nam|12 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh|01072021\r\n",
			Card{IDNumber: "079203012345", OldIDNumber: "025123456", FullName: "Nguyễn Văn An", DateOfBirth: date(1990, 3, 15), Sex: "Nam",
				Address: "12 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh", DateOfIssue: date(2021, 7, 1)}},
		{"no old id", "001304012345||Trần Thị Bình|02112004|Nữ|Xã Đông Anh, Hà Nội|20082022",
			Card{IDNumber: "001304012345", FullName: "Trần Thị Bình", DateOfBirth: date(2004, 11, 2), Sex: "Nữ", Address: "Xã Đông Anh, Hà Nội", DateOfIssue: date(2022, 8, 20)}},
		{"six fields", "001304012345||Trần Thị Bình|02112004|Nữ|Xã Đông Anh, Hà Nội",
			Card{IDNumber: "001304012345", FullName: "Trần Thị Bình", DateOfBirth: date(2004, 11, 2), Sex: "Nữ", Address: "Xã Đông Anh, Hà Nội"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestCAN(t *testing.T) {
	t.Parallel()
	c, err := Parse("079203012345||A|01011990|Nam|X|01012021")
	if err != nil {
		t.Fatal(err)
	}
	if c.CAN() != "012345" {
		t.Errorf("CAN = %s", c.CAN())
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "1 fields"},
		{"a|b|c", "3 fields"},
		{"07920301234|x|A|01011990|Nam|X|01012021", "ID number field is not 12 digits"},
		{"07920301234A||A|01011990|Nam|X|01012021", "ID number field is not 12 digits"},
		{"079203012345|1234|A|01011990|Nam|X|01012021", "old ID number"},
		{"079203012345|| |01011990|Nam|X|01012021", "name field is empty"},
		{"079203012345||A|31021990|Nam|X|01012021", "date of birth: not a calendar date"},
		{"079203012345||A|1990-01-01|Nam|X|01012021", "date of birth: expected DDMMYYYY"},
		{"079203012345||A|01011990|Male|X|01012021", "neither Nam nor Nữ"},
		{"079203012345||A|01011990|Nam|X|2021", "date of issue"},
		{"079203012345||A|01011990|Nam|X|01012021|extra|more", "9 fields"},
		{"079203012345||\xff|01011990|Nam|X|01012021", "not UTF-8"},
		{strings.Repeat("1", 3000), "too long"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.40q) = %v, want error containing %q", tt.in, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "079203012345") {
			t.Errorf("error leaks the ID number: %v", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("079203012345|025123456|Nguyễn Văn An|15031990|Nam|12 Lê Lợi|01072021")
	f.Add("001304012345||Trần Thị Bình|02112004|Nữ|Hà Nội")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			return
		}
		if len(c.CAN()) != 6 {
			t.Fatalf("CAN %q", c.CAN())
		}
		again, err := Parse(Format(c))
		if err != nil {
			t.Fatalf("Format output does not parse: %v", err)
		}
		if again.IDNumber != c.IDNumber || again.FullName != c.FullName || !again.DateOfBirth.Equal(c.DateOfBirth) {
			t.Fatalf("round trip changed the card")
		}
	})
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
