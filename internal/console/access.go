package console

import (
	"context"
	"strings"

	"github.com/inbound-gateway/inbound/internal/audit"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

// The partner and staff actions (supervisor), as the admin API's
// /admin/v1/partners and /admin/v1/staff: secrets are shown once.

func describeStaff(changed ...string) func(auth.Staff) (string, audit.Summary) {
	return func(st auth.Staff) (string, audit.Summary) {
		return st.ID, audit.Summary{Object: "staff", ID: st.ID, Status: st.Status, Role: st.Role.String(),
			Changed: changed, CreatedBy: st.CreatedBy, ApprovedBy: st.ApprovedBy}
	}
}

func describePartner(changed ...string) func(auth.Partner) (string, audit.Summary) {
	return func(p auth.Partner) (string, audit.Summary) {
		return p.ID, audit.Summary{Object: "partner", ID: p.ID, Status: p.Status, Changed: changed}
	}
}

const staffPage = "/console/staff"

func lines(s ...string) func(context.Context, *Console, *input) ([]string, error) {
	return func(context.Context, *Console, *input) ([]string, error) { return s, nil }
}

func registerAccessActions() {
	register(&action{Name: "staff.create", Title: "Create a staff member", Button: "Create", Role: auth.Supervisor,
		Fields: []field{{Name: "name", Label: "Name", Kind: "text"},
			{Name: "role", Label: "Role", Kind: "select", Options: []string{"viewer", "agent", "supervisor"}}, reasonField},
		preview: func(_ context.Context, _ *Console, in *input) ([]string, error) {
			if in.Values["role"] == "supervisor" {
				return []string{"A supervisor is proposed, with no token: a second supervisor approves it and is shown its token once."}, nil
			}
			return []string{"A " + in.Values["role"] + " is created now; its token is shown once, to you."}, nil
		},
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			role, err := auth.ParseRole(in.Values["role"])
			if err != nil {
				return result{}, validation("role", "role must be one of: viewer, agent, supervisor.")
			}
			name := strings.TrimSpace(in.Values["name"])
			if role == auth.Supervisor {
				then := audited(c, in, "staff.propose", describeStaff("name", "role", "status"))
				st, err := c.api.Auth.ProposeStaff(ctx, ids.New(ids.Staff), name, role, in.Staff, then)
				if err != nil {
					return result{}, withParam(err, "name")
				}
				return result{Redirect: staffPage, Done: "Supervisor " + st.ID + " proposed: another supervisor must approve it."}, nil
			}
			then := audited(c, in, "staff.create", describeStaff("name", "role", "status", "token"))
			st, token, err := c.api.Auth.CreateStaff(ctx, ids.New(ids.Staff), name, role, auth.NewSecret("st_"), in.Staff.ID, then)
			if err != nil {
				return result{}, withParam(err, "name")
			}
			return result{Done: "Staff member " + st.ID + " created.", Secret: &shownSecret{Label: "Staff token", Value: token, Subject: st.ID,
				Note: "Hand it over now: it is not shown again."}}, nil
		}})

	register(&action{Name: "staff.approve", Title: "Approve a proposed supervisor", Button: "Approve", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: lines("The proposed supervisor becomes active; its token is shown once, to you, to hand over."),
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "staff.approve", describeStaff("status", "token"))
			st, token, err := c.api.Auth.ApproveStaff(ctx, in.Target, in.Staff, auth.NewSecret("st_"), then)
			if err != nil {
				return result{}, err
			}
			return result{Done: "Supervisor " + st.ID + " approved.", Secret: &shownSecret{Label: "Staff token", Value: token, Subject: st.ID,
				Note: "Hand it over now: it is not shown again."}}, nil
		}})

	register(&action{Name: "staff.rotate_token", Title: "Rotate a staff token", Button: "Rotate", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: lines("A new token is made and shown once; the old one stops working at once."),
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "staff.rotate_token", describeStaff("token"))
			st, token, err := c.api.Auth.RotateStaffToken(ctx, in.Target, in.Staff.ID, auth.NewSecret("st_"), then)
			if err != nil {
				return result{}, err
			}
			return result{Done: "Token of " + st.ID + " rotated.", Secret: &shownSecret{Label: "Staff token", Value: token, Subject: st.ID,
				Note: "It is not shown again."}}, nil
		}})

	register(&action{Name: "staff.disable", Title: "Disable a staff member", Button: "Disable", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: lines("The member's token and console sessions stop working at once (a pending proposal is withdrawn)."),
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "staff.disable", describeStaff("status"))
			st, err := c.api.Auth.DisableStaff(ctx, in.Target, then)
			if err != nil {
				return result{}, err
			}
			return result{Redirect: staffPage, Done: "Staff member " + st.ID + " disabled."}, nil
		}})

	register(&action{Name: "partner.create", Title: "Create a partner", Button: "Create", Role: auth.Supervisor,
		Fields:  []field{{Name: "name", Label: "Partner name", Kind: "text"}, reasonField},
		preview: lines("A partner is created with a secret key, shown once, to you."),
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "partner.create", describePartner("name", "status", "secret_key"))
			p, key, err := c.api.Auth.CreatePartner(ctx, ids.New(ids.Partner), strings.TrimSpace(in.Values["name"]), auth.NewSecret("sk_"), then)
			if err != nil {
				return result{}, withParam(err, "name")
			}
			return result{Done: "Partner " + p.ID + " created.", Secret: &shownSecret{Label: "Secret key", Value: key, Subject: p.ID,
				Note: "Send it to the partner over a secure channel now: it is not shown again."}}, nil
		}})

	register(&action{Name: "partner.rotate_key", Title: "Rotate a partner key", Button: "Rotate", Role: auth.Supervisor, Fields: []field{reasonField},
		preview: lines("A new secret key is made and shown once; the old key stops working at once."),
		do: func(ctx context.Context, c *Console, in *input) (result, error) {
			then := audited(c, in, "partner.rotate_key", describePartner("secret_key"))
			p, key, err := c.api.Auth.RotatePartnerKey(ctx, in.Target, ids.New(ids.Key), auth.NewSecret("sk_"), then)
			if err != nil {
				return result{}, err
			}
			return result{Done: "Key of " + p.ID + " rotated.", Secret: &shownSecret{Label: "Secret key", Value: key, Subject: p.ID,
				Note: "It is not shown again."}}, nil
		}})

	for _, enable := range []bool{false, true} {
		name, verb, what := "partner.disable", "Disable", "The partner's keys answer 401 until it is enabled again."
		set := func(c *Console) func(context.Context, string, ...db.Then[auth.Partner]) (auth.Partner, error) {
			return c.api.Auth.DisablePartner
		}
		if enable {
			name, verb, what = "partner.enable", "Enable", "The partner's unrevoked keys work again."
			set = func(c *Console) func(context.Context, string, ...db.Then[auth.Partner]) (auth.Partner, error) {
				return c.api.Auth.EnablePartner
			}
		}
		register(&action{Name: name, Title: verb + " a partner", Button: verb, Role: auth.Supervisor, Fields: []field{reasonField},
			preview: lines(what),
			do: func(ctx context.Context, c *Console, in *input) (result, error) {
				then := audited(c, in, name, describePartner("status"))
				p, err := set(c)(ctx, in.Target, then)
				if err != nil {
					return result{}, err
				}
				return result{Redirect: staffPage, Done: "Partner " + p.ID + " is " + p.Status + "."}, nil
			}})
	}
}
