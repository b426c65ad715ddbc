package fx

import "github.com/inbound-gateway/inbound/internal/money"

// Role is an account's part in a conversion's ledger batch. fx does not
// know the ledger's account codes; the poster maps each role to one (see
// the ledger's chart of accounts, noted on each role).
type Role string

// The roles of a conversion's ledger batch.
const (
	// RoleNetwork is network:<net>:<CUR>, the card network's settlement
	// account in the card currency.
	RoleNetwork = Role("network")
	// RoleFXCard is fx:<CUR>, the FX position in the card currency.
	RoleFXCard = Role("fx_card")
	// RoleFXCNY is fx:CNY, the FX position in CNY.
	RoleFXCNY = Role("fx_cny")
	// RoleVisitor is visitor:<vis>:prepaid, the visitor's CNY account.
	RoleVisitor = Role("visitor")
	// RoleFees is revenue:fees.
	RoleFees = Role("fees")
	// RoleSpread is revenue:fx_spread.
	RoleSpread = Role("fx_spread")
)

// String is the role's name.
func (r Role) String() string { return string(r) }

// Leg is one transfer of a conversion's batch: Amount moves from Debit to
// Credit (the "A -> B" notation; ledger.Move(debit, credit, amount)).
type Leg struct {
	Debit  Role
	Credit Role
	Amount money.Amount
}

// Legs is the ledger batch that books the quote, all legs in one
// transaction. Legs of zero amount (no fee, no spread) are left out, since a
// transfer moves a positive amount.
//
// A load (the worked example of docs/API.md: USD 141.83 at mid 7.1220 for CNY 1000.00):
//
//	network -> fx_card   Card()           141.83 USD
//	fx_cny  -> visitor   Credited()       970.00 CNY
//	fx_cny  -> fees      Fee()             30.00 CNY
//	fx_cny  -> spread    SpreadRevenue()   10.11 CNY  (1010.11 - 1000.00)
//
// fx:CNY gives out MidValue() (1010.11) against the fx:USD entry of
// Card(); at mid the two differ by less than a fen, which stays in the
// position in the bank's favour (141.83 x 7.1220 = 1010.11326).
//
// An unload mirrors it; the visitor's statement shows one line of the
// whole amount:
//
//	visitor -> fx_cny    Sell()   CNY taken from the account
//	fx_cny  -> spread    SpreadRevenue()
//	fx_card -> network   Card()   the refund to the card
func (q Quote) Legs() []Leg {
	var legs []Leg
	add := func(debit, credit Role, a money.Amount) {
		if a.IsPositive() {
			legs = append(legs, Leg{Debit: debit, Credit: credit, Amount: a})
		}
	}
	if q.kind == KindUnload {
		add(RoleVisitor, RoleFXCNY, q.sell)
		add(RoleFXCNY, RoleSpread, q.SpreadRevenue())
		add(RoleFXCard, RoleNetwork, q.buy)
		return legs
	}
	add(RoleNetwork, RoleFXCard, q.sell)
	add(RoleFXCNY, RoleVisitor, q.credited)
	add(RoleFXCNY, RoleFees, q.fee)
	add(RoleFXCNY, RoleSpread, q.SpreadRevenue())
	return legs
}
