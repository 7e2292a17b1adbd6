/* placeholder */ void assay_datagen_placeholder(void); void assay_datagen_placeholder(void) {}
