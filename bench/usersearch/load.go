package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/identitykit/identity"
)

// The loader writes users straight into the store's tables (it is a data loader, not the
// API): batched multi-row INSERTs on SQLite and COPY on PostgreSQL, with explicit ids so that
// the user_tags rows need no read-back. It writes every column Migrate creates for users and
// user_tags, computed as the store computes them (login_key, email_key, tags JSON, tag_key).

// Population shape (deterministic for a seed):
//   - full_name: first + last name from fixed lists (about 1 user in 200 is a "Hunter ...");
//   - login: lower(last name) + a counter ("smith1", "smith2", ...); email for 80 %;
//   - phone for 90 % (unique 12 digits), external_id 30 %, facebook_id 10 %, twitter_id 5 %;
//   - created_at uniform in 2015..2025, updated_at after it, last_request_at for 70 %;
//   - tags: "guest" 20 %, "vip" 1 %, "iphone" and "android" 35 % each, and up to two of 2000
//     long-tail tags; never more than 5.
var (
	firstNames = strings.Fields(`James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David
		Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa Matthew
		Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle
		Kenneth Dorothy Kevin Carol Brian Amanda George Melissa Edward Deborah Ronald Stephanie Timothy Rebecca
		Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Shirley Eric Angela Jonathan
		Helen Stephen Anna Larry Brenda Justin Pamela Scott Nicole Brandon Emma Benjamin Samantha Samuel
		Katherine Gregory Christine Frank Debra Alexander Rachel Raymond Catherine Patrick Carolyn Jack Janet
		Dennis Ruth Jerry Maria Tyler Heather Aaron Diane Jose Virginia Adam Julie Henry Joyce Nathan Victoria
		Douglas Olivia Zachary Kelly Peter Christina Kyle Lauren Walter Joan Ethan Evelyn Jeremy Judith Harold
		Megan Keith Cheryl Christian Andrea Roger Hannah Noah Martha Gerald Jacqueline Carl Frances Terry Gloria
		Sean Ann Austin Teresa Arthur Kathryn Lawrence Sara Jesse Janice Dylan Jean Bryan Alice Joe Madison
		Jordan Doris Billy Abigail Bruce Julia Albert Judy Willie Grace Gabriel Denise Logan Amber Alan Marilyn
		Juan Beverly Wayne Danielle Roy Theresa Ralph Sophia Randy Marie Eugene Diana Vincent Brittany Russell
		Natalie Elijah Isabella Louis Charlotte Bobby Rose Philip Alexis Johnny Kayla Marvin Hunter Émile Zoë`)
	lastNames = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
		Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White
		Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
		Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner
		Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan
		Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James
		Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez
		Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez
		Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole
		Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison
		Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns
		Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Muñoz Hunt Hicks Holmes
		Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels
		Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce
		Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane
		Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Peña Richards Willis Carpenter
		Lawrence Sandoval Zola`)
)

const (
	tailTags = 2000
	// benchPassword is the stored hash of every loaded user: a valid argon2id encoding of
	// nothing anyone knows (loaded users never log in).
	benchPasswordHash = "$argon2id$v=19$m=65536,t=1,p=2$YmVuY2hzYWx0$YmVuY2hoYXNoYmVuY2hoYXNo"
)

var (
	epoch   = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	horizon = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// genUser is one generated user with its tags.
type genUser struct {
	id                                    int64
	uid, login, email, fullName, phone    string
	externalID, facebookID, twitterID     string
	customData                            string
	timezone                              *int
	tags                                  []string
	createdAt, updatedAt, lastRequestAt   time.Time
	hasEmail, hasLastRequest, hasTimezone bool
}

// generator produces the population deterministically.
type generator struct {
	r        *rand.Rand
	perLast  map[string]int
	uidBase  uint64
	tzValues []int
}

func newGenerator(seed uint64) *generator {
	return &generator{
		r:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		perLast:  map[string]int{},
		uidBase:  seed << 32,
		tzValues: []int{-480, -300, -240, 0, 60, 120, 180, 330, 480, 540},
	}
}

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

func (g *generator) next(id int64) *genUser {
	r := g.r
	first := firstNames[r.IntN(len(firstNames))]
	last := lastNames[r.IntN(len(lastNames))]
	g.perLast[last]++
	u := &genUser{
		id:       id,
		uid:      fmt.Sprintf("%024x", g.uidBase+uint64(id)),
		login:    strings.ToLower(last) + strconv.Itoa(g.perLast[last]),
		fullName: first + " " + last,
	}
	if g.chance(0.8) {
		u.hasEmail = true
		u.email = u.login + "@example.com"
	}
	if g.chance(0.9) {
		// Unique: the id in the last digits, random country-like prefix.
		u.phone = fmt.Sprintf("%d%010d", 1+r.IntN(99), id)
	}
	if g.chance(0.3) {
		u.externalID = fmt.Sprintf("%08x-%04x-%04x", r.Uint32(), r.Uint32()&0xffff, id&0xffff)
	}
	if g.chance(0.1) {
		u.facebookID = strconv.FormatInt(100000000000+id, 10)
	}
	if g.chance(0.05) {
		u.twitterID = strconv.FormatInt(9000000000+id, 10)
	}
	if g.chance(0.1) {
		u.customData = `{"level":` + strconv.Itoa(r.IntN(50)) + `}`
	}
	if g.chance(0.5) {
		tz := g.tzValues[r.IntN(len(g.tzValues))]
		u.timezone = &tz
		u.hasTimezone = true
	}
	span := horizon.Sub(epoch)
	u.createdAt = epoch.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Microsecond)
	u.updatedAt = u.createdAt.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Microsecond)
	if g.chance(0.7) {
		u.hasLastRequest = true
		u.lastRequestAt = u.createdAt.Add(time.Duration(r.Int64N(int64(horizon.Add(180 * 24 * time.Hour).Sub(u.createdAt))))).Truncate(time.Microsecond)
	}
	if g.chance(0.20) {
		u.tags = append(u.tags, "guest")
	}
	if g.chance(0.01) {
		u.tags = append(u.tags, "vip")
	}
	if g.chance(0.35) {
		u.tags = append(u.tags, "iphone")
	}
	if g.chance(0.35) {
		u.tags = append(u.tags, "android")
	}
	for n := r.IntN(3); n > 0 && len(u.tags) < identity.MaxTags; n-- {
		t := fmt.Sprintf("tag%04d", r.IntN(tailTags))
		if !contains(u.tags, t) {
			u.tags = append(u.tags, t)
		}
	}
	return u
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// userColumns are the columns of <prefix>users the loader writes, in order.
var userColumns = []string{
	"id", "application_id", "uid", "login", "login_key", "email", "email_key", "full_name", "phone",
	"website", "external_id", "external_user_id", "facebook_id", "twitter_id", "custom_data", "avatar",
	"blob_id", "timezone", "tags", "is_guest", "password_hash", "guest_expires_at", "created_at",
	"updated_at", "last_request_at",
}

var tagColumns = []string{"user_id", "tag_key", "application_id", "tag"}

func (u *genUser) values(appID int64) []any {
	var email, emailKey any
	if u.hasEmail {
		email, emailKey = u.email, identity.NormalizeEmail(u.email)
	}
	var tz any
	if u.hasTimezone {
		tz = *u.timezone
	}
	var lastRequest any
	if u.hasLastRequest {
		lastRequest = u.lastRequestAt
	}
	tags := ""
	if len(u.tags) > 0 {
		b, _ := json.Marshal(u.tags)
		tags = string(b)
	}
	return []any{
		u.id, appID, u.uid, u.login, identity.NormalizeLogin(u.login), email, emailKey, u.fullName, u.phone,
		"", u.externalID, nil, u.facebookID, u.twitterID, u.customData, "",
		int64(0), tz, tags, false, benchPasswordHash, nil, u.createdAt,
		u.updatedAt, lastRequest,
	}
}

// loader inserts generated users in batches.
type loader interface {
	add(u *genUser) error
	flush() error
}

// loadUsers generates n users of appID with ids firstID.. and writes them with l.
func loadUsers(n int, firstID int64, seed uint64, l loader, progress func(int)) error {
	g := newGenerator(seed)
	for i := 0; i < n; i++ {
		if err := l.add(g.next(firstID + int64(i))); err != nil {
			return err
		}
		if (i+1)%100000 == 0 {
			progress(i + 1)
		}
	}
	return l.flush()
}

// sqliteLoader inserts with multi-row INSERTs in transactions of txRows rows.
type sqliteLoader struct {
	ctx                 context.Context
	db                  *sql.DB
	appID               int64
	usersTable, tagsTbl string
	users               [][]any
	tags                [][]any
	tx                  *sql.Tx
	inTx                int
}

const (
	sqliteBatch = 500   // rows per INSERT (25 columns: 12 500 parameters)
	sqliteTx    = 50000 // rows per transaction
)

func (l *sqliteLoader) add(u *genUser) error {
	l.users = append(l.users, u.values(l.appID))
	for _, t := range u.tags {
		l.tags = append(l.tags, []any{u.id, strings.ToLower(t), l.appID, t})
	}
	if len(l.users) >= sqliteBatch {
		return l.write()
	}
	return nil
}

func (l *sqliteLoader) write() error {
	if l.tx == nil {
		tx, err := l.db.BeginTx(l.ctx, nil)
		if err != nil {
			return err
		}
		l.tx = tx
	}
	if err := insertRows(l.ctx, l.tx, l.usersTable, userColumns, l.users, sqliteBatch); err != nil {
		return err
	}
	if err := insertRows(l.ctx, l.tx, l.tagsTbl, tagColumns, l.tags, sqliteBatch*2); err != nil {
		return err
	}
	l.inTx += len(l.users)
	l.users, l.tags = l.users[:0], l.tags[:0]
	if l.inTx >= sqliteTx {
		l.inTx = 0
		err := l.tx.Commit()
		l.tx = nil
		return err
	}
	return nil
}

func (l *sqliteLoader) flush() error {
	if len(l.users) > 0 {
		if err := l.write(); err != nil {
			return err
		}
	}
	if l.tx != nil {
		err := l.tx.Commit()
		l.tx = nil
		return err
	}
	return nil
}

func insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any, per int) error {
	for len(rows) > 0 {
		n := min(per, len(rows))
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		args := make([]any, 0, n*len(cols))
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
			for _, v := range rows[i] {
				if t, ok := v.(time.Time); ok {
					v = t.UTC() // the store's format: UTC, microseconds
				}
				args = append(args, v)
			}
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// pgLoader copies rows with COPY, pgCopyRows at a time.
type pgLoader struct {
	ctx                 context.Context
	conn                *pgx.Conn
	appID               int64
	usersTable, tagsTbl string
	users, tags         [][]any
}

const pgCopyRows = 20000

func (l *pgLoader) add(u *genUser) error {
	l.users = append(l.users, u.values(l.appID))
	for _, t := range u.tags {
		l.tags = append(l.tags, []any{u.id, strings.ToLower(t), l.appID, t})
	}
	if len(l.users) >= pgCopyRows {
		return l.flush()
	}
	return nil
}

func (l *pgLoader) flush() error {
	if len(l.users) > 0 {
		if _, err := l.conn.CopyFrom(l.ctx, pgx.Identifier{l.usersTable}, userColumns, pgx.CopyFromRows(l.users)); err != nil {
			return fmt.Errorf("copy users: %w", err)
		}
	}
	if len(l.tags) > 0 {
		if _, err := l.conn.CopyFrom(l.ctx, pgx.Identifier{l.tagsTbl}, tagColumns, pgx.CopyFromRows(l.tags)); err != nil {
			return fmt.Errorf("copy user_tags: %w", err)
		}
	}
	l.users, l.tags = l.users[:0], l.tags[:0]
	return nil
}

// withPgConn runs fn on a raw pgx connection of db.
func withPgConn(ctx context.Context, db *sql.DB, fn func(*pgx.Conn) error) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("not a pgx connection")
		}
		return fn(sc.Conn())
	})
}
