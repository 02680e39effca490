// Package httpadapter serves the ConnectyCube REST endpoints for sessions and users over an
// *identity.Identity, so that the official ConnectyCube SDKs work against it unmodified.
package httpadapter
