package chipauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816/iso7816test"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
)

var unhex = iso7816test.Unhex

type script = iso7816test.Playback

// selectDG14 is the command every transcript below ends with: the first command
// under the new keys, which is what proves chip authentication.
var selectDG14 = iso7816.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x0E}}

// Chip authentication sessions with real passports, published with gmrtd's tests:
// DG14, the secure messaging state before, the terminal's ephemeral private key,
// and the exact protected APDUs of chip authentication and of the SELECT that
// follows under the new keys.
var realSessions = []struct {
	name         string
	dg14         string
	alg          securemessaging.Algorithm
	kenc, kmac   string
	ssc          string
	ephemeral    string
	exchanges    [][2]string
	wantProtocol securityinfo.CAProtocol
}{
	{
		name:      "AT id-CA-ECDH-AES-CBC-CMAC-128, explicit brainpoolP256r1",
		dg14:      "6E82017E3182017A300D060804007F0007020202020101300F060A04007F000702020302020201013012060A04007F0007020204020202010202010D30820142060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377304404207D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9042026DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B60441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997022100A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7020101034200041983917269AC877C0B61544C2C022000D2A5ABA723E2D80141E648B40911DC3459761F27480E4B57181A53D8FE1190EA86C939AC14363178CAFFC621F0F905C3",
		alg:       securemessaging.AES128,
		kenc:      "524170DE3419B7AF2F23E45AD6EF9595",
		kmac:      "97893F5FDC29A5C13A924FE7D8ED44FD",
		ssc:       "000000000000000000000000000000F0",
		ephemeral: "80EBAFC8A51BECD4D90BB640EE38C9FD5C12748D28AAA37096B98C4533C4F5F5",
		exchanges: [][2]string{
			{"0C2241A41D8711015D8F69B1EA365CCE4304970DB12421F38E085340D338128085E700", "990290008E083F5136E82A6C34779000"},
			{"0C860000608751019E18F1BA79D805379752BB560EB70AAC3CE3BC5AFE2FDD4AEB325CA8B578B4A93B9F66A5DF40005F8E878535251D33DD974AAF77FB858773E5799FA9DC1034E89B1150EC7F0BB3DB4BF37A1B9EA4458A9701008E089D204D950C0B95DB00", "8711010B0A5DFFC7432DE4DEB604291377A05B990290008E08B3384A1F5D1579739000"},
			{"0CA4020C1D8711011B2EE500E84960DF7F37AFE7ADFF53838E084500F3B43E192A5700", "990290008E0803C4B125B4218CEF9000"},
		},
		wantProtocol: securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: securityinfo.AES128},
	},
	{
		name:      "DE id-CA-ECDH-AES-CBC-CMAC-128 with keyId",
		dg14:      "6E82019A31820196300D060804007F00070202020201013012060A04007F0007020204020202010202010D3012060A04007F0007020204060202010202010D3013060A04007F00070202030202020101020200C330820146060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377304404207D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9042026DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B60441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997022100A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7020101034200047036BC5D0BCF31913B59103BB6F2C0C98C99EF4C19B9517340B76BFE4EE2194C76C3F3314E021D4B092DB5A32AB7D6E297F2FBEAE45AA28DEFC4DA750FEAD54E020200C3",
		alg:       securemessaging.AES128,
		kenc:      "CC86415F2ED7E8FD663B754265695AE1",
		kmac:      "581E84B8EE06C4D3EEE30461498D7FB3",
		ssc:       "000000000000000000000000000000BA",
		ephemeral: "84A5145885678EE9307C28C52736896267511203B7B8009C5FE27ABCBAECDCAA",
		exchanges: [][2]string{
			{"0C2241A41D871101980953D37F67558690045D78A853B18A8E08929767A2CEF172E200", "990290008E08FC873EBB62219C8A9000"},
			{"0C8600006087510161912C367A6322D24AA1D4522DC47A7345369257672DF1D1163D506EB6489395D8083FAD393A394297CE8703C42F22C864C1F4C8E70EE1CF9B497ACF6579190D90F36CF9E16FE2149FF57247285D9E1E9701008E08A1D7A16EFBFD932C00", "87110123E7159AC9B0EF92CE1F6755B89697E3990290008E088972F1595E1508C29000"},
			{"0CA4020C1D871101FAD37EADBCDE7E6A0833035A9FFF5B708E0836560BBCE1FECD5F00", "990290008E0829D0E1EBBB61BE7A9000"},
		},
		wantProtocol: securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: securityinfo.AES128},
	},
	{
		name:      "FR no ChipAuthenticationInfo: 3DES with MSE:Set KAT over AES-256, explicit P-256",
		dg14:      "6E82015E3182015A30820142060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF30440420FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC04205AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B0441046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5022100FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551020101034200048367FC170D90AD53A28C6526A9C7EC4F5C59C4F7F5D992583F951A1654B4D1D6332163A33D82CBF245154887A8812ED9A55C15AD9D5C5C463851875BBA9AEABD3012060A04007F0007020204020402010202010C",
		alg:       securemessaging.AES256,
		kenc:      "17da5d46e356f5b31c3d65b1369ef531ca811effc76967d2b62335e1ad9fe5cb",
		kmac:      "5cb99a25e6081581fac80c8da621087939b6bde273f2f7c65693b3a0ea3051ed",
		ssc:       "000000000000000000000000000000c6",
		ephemeral: "d9c3b06a4dcb735351429403fcb56db520dc882512d775971f724d6112f96586",
		exchanges: [][2]string{
			{"0c2241a65d8751013ae386873df68bd7e9f8d7ab2e696ced29eeb8da78d502645b5e97d566361341e2eaa56318f6d84bf0bc44f7808afaf14798d16048aab03545f017f557d2cce9dee724f099e3d643abd0fb03e567d9b18e08f2d238dede5abbf100", "990290008e089666ac14d11e8c2c9000"},
			{"0ca4020c15870901db66e918fe3525f98e08d870008cea2ba80000", "990290008e08420dea0a913418ae9000"},
		},
		wantProtocol: securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: securityinfo.TripleDES},
	},
}

func TestRealPassports(t *testing.T) {
	t.Parallel()
	for _, tc := range realSessions {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			infos, err := securityinfo.ParseDG14(unhex(t, tc.dg14))
			if err != nil {
				t.Fatal(err)
			}
			ca, pk, err := infos.ChipAuthenticationPair()
			if err != nil {
				t.Fatal(err)
			}
			if p, err := ca.CAProtocol(); err != nil || p != tc.wantProtocol {
				t.Fatalf("protocol %v %v", p, err)
			}
			sc := &script{T: t, Exchanges: tc.exchanges}
			old, err := securemessaging.NewChannel(iso7816.NewConn(sc), tc.alg, unhex(t, tc.kenc), unhex(t, tc.kmac), unhex(t, tc.ssc))
			if err != nil {
				t.Fatal(err)
			}
			ch, err := Authenticate(context.Background(), old, ca, pk, bytes.NewReader(unhex(t, tc.ephemeral)))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[securityinfo.Cipher]securemessaging.Algorithm{securityinfo.TripleDES: securemessaging.TripleDES, securityinfo.AES128: securemessaging.AES128}[tc.wantProtocol.Cipher]; ch.Algorithm() != want {
				t.Errorf("new channel %s, want %s", ch.Algorithm(), want)
			}
			resp, err := ch.Send(context.Background(), selectDG14)
			if err != nil || resp.SW != iso7816.SWOK {
				t.Fatalf("SELECT under the new keys: %v %v", resp.SW, err)
			}
			sc.Done()
		})
	}
}

// chip simulates the virtual card around Card: it unwraps every command with the
// current session, routes chip authentication commands to Card, answers others by
// echoing their data, wraps with the session the command came under, and then
// switches to the session chip authentication produced.
type chip struct {
	mu      sync.Mutex
	sess    *securemessaging.CardSession
	card    *Card
	answers map[byte]iso7816.Response // canned answers by INS, replacing Card
	switchs bool                      // false: a clone that cannot follow the new keys
	forge   []byte                    // raw answer to every command, unchecked
	seen    []iso7816.Command
}

func (c *chip) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forge != nil {
		return c.forge, nil
	}
	cmd, err := iso7816.ParseCommand(raw)
	if err != nil {
		return nil, err
	}
	plain, err := c.sess.UnwrapCommand(cmd)
	if err != nil {
		var ce *securemessaging.CommandError
		if errors.As(err, &ce) {
			return iso7816.Response{SW: ce.SW}.Bytes(), nil
		}
		return nil, err
	}
	c.seen = append(c.seen, plain)
	var resp iso7816.Response
	var next *securemessaging.CardSession
	switch canned, ok := c.answers[plain.INS]; {
	case ok:
		resp = canned
	case c.card.Handles(plain):
		resp, next = c.card.Process(plain)
	default:
		resp = iso7816.Response{Data: plain.Data, SW: iso7816.SWOK}
	}
	out := c.sess.WrapResponse(resp).Bytes()
	if next != nil && c.switchs {
		c.sess = next
	}
	return out, nil
}

type fixture struct {
	old  *securemessaging.Channel
	chip *chip
	ca   securityinfo.ChipAuthenticationInfo
	pk   securityinfo.ChipAuthenticationPublicKeyInfo
}

func newFixture(t *testing.T, curveID int, cipher securityinfo.Cipher, keyID *int, smAlg securemessaging.Algorithm) *fixture {
	t.Helper()
	c, err := eccurve.ByParameterID(curveID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.GenerateScalar(nil)
	if err != nil {
		t.Fatal(err)
	}
	ca := securityinfo.ChipAuthenticationInfo{Protocol: (securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: cipher}).OID(), Version: 1, KeyID: keyID}
	card, err := NewCard(ca, c, d)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := card.PublicKeyInfo(true)
	if err != nil {
		t.Fatal(err)
	}
	kenc, kmac := make([]byte, smAlg.KeyLen()), make([]byte, smAlg.KeyLen())
	rand.Read(kenc)
	rand.Read(kmac)
	sess, err := securemessaging.NewCardSession(smAlg, kenc, kmac, make([]byte, smAlg.BlockSize()))
	if err != nil {
		t.Fatal(err)
	}
	ch := &chip{sess: sess, card: card, switchs: true}
	old, err := securemessaging.NewChannel(iso7816.NewConn(ch), smAlg, kenc, kmac, make([]byte, smAlg.BlockSize()))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{old: old, chip: ch, ca: ca, pk: pk}
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		curve   int
		cipher  securityinfo.Cipher
		keyID   *int
		smAlg   securemessaging.Algorithm
		wantINS []byte
		wantP2  []byte
	}{
		{"brainpoolP256r1 AES-128 (CCCD)", 13, securityinfo.AES128, nil, securemessaging.AES128, []byte{0x22, 0x86}, []byte{0xA4, 0x00}},
		{"brainpoolP256r1 AES-128 keyId", 13, securityinfo.AES128, new(0xC3), securemessaging.AES128, []byte{0x22, 0x86}, []byte{0xA4, 0x00}},
		{"brainpoolP256r1 3DES", 13, securityinfo.TripleDES, nil, securemessaging.TripleDES, []byte{0x22}, []byte{0xA6}},
		{"P-256 3DES keyId 0", 12, securityinfo.TripleDES, new(0), securemessaging.AES128, []byte{0x22}, []byte{0xA6}},
		{"brainpoolP384r1 AES-256", 16, securityinfo.AES256, nil, securemessaging.AES256, []byte{0x22, 0x86}, []byte{0xA4, 0x00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.curve, tc.cipher, tc.keyID, tc.smAlg)
			ch, err := Authenticate(context.Background(), f.old, f.ca, f.pk, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range f.chip.seen {
				if i >= len(tc.wantINS) || c.INS != tc.wantINS[i] || c.P2 != tc.wantP2[i] {
					t.Errorf("command %d: INS %02X P2 %02X", i, c.INS, c.P2)
				}
			}
			payload := []byte("after chip authentication")
			resp, err := ch.Send(context.Background(), iso7816.Command{INS: 0xB0, Data: payload, Ne: 256})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Data, payload) {
				t.Errorf("echo %X", resp.Data)
			}
		})
	}
}

// A chip that does not hold the private key cannot follow the switch of keys: it
// rejects the first protected command after Authenticate (6988, the terminal's MAC
// is under keys it does not have), or, if it answers anyway, its answer fails the
// terminal's MAC check. This is the implicit proof the package comment tells
// callers to complete.
func TestCloneFailsOnNextCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 13, securityinfo.AES128, nil, securemessaging.AES128)
	f.chip.switchs = false
	ch, err := Authenticate(context.Background(), f.old, f.ca, f.pk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Send(context.Background(), selectDG14); !errors.Is(err, securemessaging.ErrAborted) {
		t.Errorf("next command: %v, want the chip to abort secure messaging", err)
	}
	// A clone that does not check and answers with a MAC it cannot compute.
	f = newFixture(t, 13, securityinfo.AES128, nil, securemessaging.AES128)
	f.chip.switchs = false
	ch, err = Authenticate(context.Background(), f.old, f.ca, f.pk, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.chip.forge = unhex(t, "990290008E080102030405060708"+"9000")
	if _, err := ch.Send(context.Background(), selectDG14); !errors.Is(err, securemessaging.ErrMAC) {
		t.Errorf("forged answer: %v, want a MAC failure", err)
	}
}

// The chip side refuses invalid terminal keys and out-of-order commands, and
// answers MSE:Set KAT only for 3DES.
func TestCardRefusals(t *testing.T) {
	t.Parallel()
	c, _ := eccurve.ByParameterID(13)
	aes := securityinfo.ChipAuthenticationInfo{Protocol: (securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: securityinfo.AES128}).OID(), Version: 1}
	tdes := securityinfo.ChipAuthenticationInfo{Protocol: (securityinfo.CAProtocol{KeyAgreement: securityinfo.ECDH, Cipher: securityinfo.TripleDES}).OID(), Version: 1, KeyID: new(5)}
	good := c.Marshal(c.ScalarBaseMult([]byte{3}))
	bad := bytes.Clone(good)
	bad[64] ^= 1
	setAT := iso7816.Command{INS: 0x22, P1: 0x41, P2: 0xA4, Data: append([]byte{0x80, 0x0A}, unhex(t, "04007F00070202030202")...)}
	ga := func(key []byte) iso7816.Command {
		return iso7816.Command{INS: 0x86, Data: append([]byte{0x7C, byte(2 + len(key)), 0x80, byte(len(key))}, key...), Ne: 256}
	}
	kat := func(key []byte, ref byte) iso7816.Command {
		return iso7816.Command{INS: 0x22, P1: 0x41, P2: 0xA6, Data: append(append([]byte{0x91, byte(len(key))}, key...), 0x84, 0x01, ref)}
	}
	tests := []struct {
		name    string
		info    securityinfo.ChipAuthenticationInfo
		cmds    []iso7816.Command
		sw      iso7816.SW
		session bool
	}{
		{"AT then GA", aes, []iso7816.Command{setAT, ga(good)}, iso7816.SWOK, true},
		{"GA without AT", aes, []iso7816.Command{ga(good)}, iso7816.SWConditionsNotSatisfied, false},
		{"GA with a point off the curve", aes, []iso7816.Command{setAT, ga(bad)}, iso7816.SWIncorrectData, false},
		{"AT with another OID", aes, []iso7816.Command{{INS: 0x22, P1: 0x41, P2: 0xA4, Data: append([]byte{0x80, 0x0A}, unhex(t, "04007F00070202030203")...)}}, iso7816.SWIncorrectData, false},
		{"KAT on an AES chip", aes, []iso7816.Command{kat(good, 5)}, iso7816.SWConditionsNotSatisfied, false},
		{"KAT", tdes, []iso7816.Command{kat(good, 5)}, iso7816.SWOK, true},
		{"KAT with another keyId", tdes, []iso7816.Command{kat(good, 6)}, iso7816.SWIncorrectData, false},
		{"KAT with a point off the curve", tdes, []iso7816.Command{kat(bad, 5)}, iso7816.SWIncorrectData, false},
	}
	for _, tc := range tests {
		card, err := NewCard(tc.info, c, []byte{7})
		if err != nil {
			t.Fatal(err)
		}
		var resp iso7816.Response
		var sess *securemessaging.CardSession
		for _, cmd := range tc.cmds {
			resp, sess = card.Process(cmd)
		}
		if resp.SW != tc.sw || (sess != nil) != tc.session {
			t.Errorf("%s: SW %s session %v", tc.name, resp.SW, sess != nil)
		}
	}
	if _, err := NewCard(aes, c, c.Params().N.Bytes()); err == nil {
		t.Error("private key = n accepted")
	}
}
