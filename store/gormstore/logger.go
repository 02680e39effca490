package gormstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// slowQuery is the duration beyond which a statement is logged at slog.LevelWarn.
const slowQuery = 200 * time.Millisecond

// slogLogger adapts a *slog.Logger to GORM. Statements are logged without their parameter
// values (ParamsFilter), since those include password hashes and token hashes. Failed
// statements are logged at Debug: the error is returned to the caller, who decides.
type slogLogger struct {
	log   *slog.Logger
	level logger.LogLevel
}

func newLogger(l *slog.Logger) logger.Interface { return &slogLogger{log: l, level: logger.Info} }

var _ gorm.ParamsFilter = (*slogLogger)(nil)

func (l *slogLogger) LogMode(level logger.LogLevel) logger.Interface {
	c := *l
	c.level = level
	return &c
}

func (l *slogLogger) Info(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Info {
		l.log.InfoContext(ctx, "gormstore: "+fmt.Sprintf(msg, args...))
	}
}

func (l *slogLogger) Warn(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Warn {
		l.log.WarnContext(ctx, "gormstore: "+fmt.Sprintf(msg, args...))
	}
}

func (l *slogLogger) Error(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Error {
		l.log.ErrorContext(ctx, "gormstore: "+fmt.Sprintf(msg, args...))
	}
}

func (l *slogLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if l.level <= logger.Silent {
		return
	}
	elapsed := time.Since(begin)
	level := slog.LevelDebug
	if elapsed > slowQuery {
		level = slog.LevelWarn
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	sql, rows := fc()
	attrs := []slog.Attr{slog.String("sql", sql), slog.Duration("elapsed", elapsed), slog.Int64("rows", rows)}
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	l.log.LogAttrs(ctx, level, "gormstore: query", attrs...)
}

// ParamsFilter drops the parameter values from logged statements.
func (l *slogLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	return sql, nil
}
