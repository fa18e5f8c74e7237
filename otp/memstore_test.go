package otp_test

import (
	"time"

	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/wallet"
)

func init() {
	stores = append(stores, storeMaker{"memstore", func(now func() time.Time) wallet.ShortLivedStore { return memstore.New(now) }})
}
